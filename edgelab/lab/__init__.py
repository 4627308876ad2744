"""The lab: start, supervise and stop a topology of edgelab processes described in a lab file.

    from edgelab.lab import Lab

    async with Lab.from_file(None, run_dir=Path(".edgelab")) as lab:    # None = default lab
        print(lab.state.endpoints.cdns)      # {"a": [...], "b": [...]}

`model.py` is the lab file, `plan.py` turns it into process specs and links (pure),
`supervisor.py` runs them, `state.py` is the state file others read, `status.py` probes a running
lab, `commands.py` is `edgelab lab ...`, `compose.py` drives the docker-compose lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgelab.lab.model import LabFile, load_lab, overlay
    from edgelab.lab.state import LabState, read_state
    from edgelab.lab.supervisor import STATE_FILE, Lab, LabEvent, stop_from_state

_EXPORTS = {
    "LabFile": "model",
    "load_lab": "model",
    "overlay": "model",
    "LabState": "state",
    "read_state": "state",
    "STATE_FILE": "supervisor",
    "Lab": "supervisor",
    "LabEvent": "supervisor",
    "stop_from_state": "supervisor",
}


def __getattr__(name: str) -> Any:
    """Lazy exports: `edgelab lab --help` must not pay for aiohttp and pydantic imports."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"edgelab.lab.{module}"), name)


__all__ = [
    "STATE_FILE",
    "Lab",
    "LabEvent",
    "LabFile",
    "LabState",
    "load_lab",
    "overlay",
    "read_state",
    "stop_from_state",
]
