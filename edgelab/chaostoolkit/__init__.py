"""edgelab's catalogue as a Chaos Toolkit extension: every action and probe, as a Python provider.

    {"type": "action", "name": "abort CDN A",
     "provider": {"type": "python", "module": "edgelab.chaostoolkit.catalogue",
                  "func": "edge_abort", "arguments": {"target": "cdn-a", "status": 500}}}

The function names are the catalogue's with `_` for `.` (`control.flap` -> `control_flap`), the
arguments the same keywords. Which lab to act on comes from Chaos Toolkit's configuration:
`edgelab_lab_state`, the path of a running lab's state file (`edgelab lab up` writes
`.edgelab/lab.json`). Each call is self-contained, so undo is explicit: put the matching
`edge_clear_faults`, `control_rollback`, `toxiproxy_remove_toxic` ... in the experiment's
`rollbacks`, as Chaos Toolkit expects. `chaostoolkit-toxiproxy` works against `edgelab
toxiproxy` unchanged (configuration `toxiproxy_url`).
"""
