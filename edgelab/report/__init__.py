"""Reports: a run directory -> summary.json, summary.md and a self-contained report.html.

    from edgelab.report import write_report
    paths = write_report(Path("runs/20251118T112000Z-cloudflare-2025-11-18"))
    paths.html      # runs/.../report.html, opens offline

Data flows one way, as in locust's html report: `rundir` reads the files, `model` computes a
plain `ReportData` (with `metrics` doing the arithmetic and `findings` the sentences), then
`charts` and `render` turn it into files. Tests check the data, not the HTML. Importing this
package is cheap: matplotlib and Jinja2 load only when a report is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgelab.report.compare import ComparisonPaths
    from edgelab.report.render import ReportPaths


def write_report(run_dir: Path, out_dir: Path | None = None) -> ReportPaths:
    """`edgelab report RUN_DIR` from Python (see `edgelab.report.render.write_report`)."""
    from edgelab.report.render import write_report as write

    return write(run_dir, out_dir)


def write_comparison(run_a: Path, run_b: Path, out_dir: Path | None = None) -> ComparisonPaths:
    """`edgelab report compare RUN_A RUN_B` from Python (`edgelab.report.compare`)."""
    from edgelab.report.compare import write_comparison as write

    return write(run_a, run_b, out_dir)
