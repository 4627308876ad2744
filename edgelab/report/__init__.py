"""Reports: a run directory -> summary.json, summary.md and a self-contained report.html.

    from edgelab.report import write_report
    paths = write_report(Path("runs/20251118T112000Z-cloudflare-2025-11-18"))
    paths.html      # runs/.../report.html, opens offline

Data flows one way, as in locust's html report: `rundir` reads the files, `model` computes a
plain `ReportData` (with `metrics` doing the arithmetic and `findings` the sentences), then
`charts` and `render` turn it into files. Tests check the data, not the HTML.
"""

from __future__ import annotations
