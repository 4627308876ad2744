"""Two runs of the same experiment side by side: what a change made better or worse.

    result = compare(data_before, data_after)
    result.rows[0].cells["availability_in_window"].change     # "better" | "worse" | "same" | ""
    paths = write_comparison(Path("runs/A"), Path("runs/B"))   # compare.md, compare.html

Both runs are read and computed exactly as `edgelab report` does; nothing here is a new number,
only the difference of two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from edgelab.errors import ConfigError
from edgelab.report.model import COLUMNS, ReportData, VariantSummary, build_report_data
from edgelab.report.rundir import read_run_dir

Change = Literal["better", "worse", "same", ""]


@dataclass(frozen=True)
class CompareCell:
    a: float | None
    b: float | None
    change: Change
    """How B moved against A in this column's good direction; "" when either is missing."""


@dataclass(frozen=True)
class CompareRow:
    variant: str
    in_a: bool
    in_b: bool
    cells: dict[str, CompareCell]


@dataclass(frozen=True)
class Comparison:
    a: ReportData
    b: ReportData
    rows: list[CompareRow]


def change(a: float | None, b: float | None, better: Literal["max", "min"]) -> Change:
    if a is None or b is None:
        return ""
    if a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)):
        return "same"
    return "better" if (b > a) == (better == "max") else "worse"


def compare(a: ReportData, b: ReportData) -> Comparison:
    """Variant by variant, column by column; raises ConfigError for different experiments."""
    if a.summary.run.slug != b.summary.run.slug:
        raise ConfigError(
            f"{b.summary.run.directory}: experiment {b.summary.run.slug!r} differs from "
            f"{a.summary.run.directory}'s {a.summary.run.slug!r}; compare two runs of one experiment"
        )
    by_a = {v.name: v for v in a.summary.variants}
    by_b = {v.name: v for v in b.summary.variants}
    names = list(by_a) + [n for n in by_b if n not in by_a]
    rows = []
    for name in names:
        va, vb = by_a.get(name), by_b.get(name)
        cells = {
            col.key: CompareCell(
                _get(col.get, va),
                _get(col.get, vb),
                change(_get(col.get, va), _get(col.get, vb), col.better),
            )
            for col in COLUMNS
        }
        rows.append(CompareRow(name, va is not None, vb is not None, cells))
    return Comparison(a, b, rows)


def _get(get: Callable[[VariantSummary], float | None], v: VariantSummary | None) -> float | None:
    if v is None:
        return None
    value = get(v)
    return None if value is None else float(value)


@dataclass(frozen=True)
class ComparisonPaths:
    json: Path
    markdown: Path
    html: Path


def write_comparison(run_a: Path, run_b: Path, out_dir: Path | None = None) -> ComparisonPaths:
    """Compare two run directories; writes compare.json/.md/.html into `out_dir` (default: B's).

    Raises ConfigError for a missing directory or runs of different experiments.
    """
    from edgelab.report.render import render_compare_html, render_compare_markdown, write_atomic

    result = compare(build_report_data(read_run_dir(run_a)), build_report_data(read_run_dir(run_b)))
    out = out_dir or run_b
    out.mkdir(parents=True, exist_ok=True)
    paths = ComparisonPaths(out / "compare.json", out / "compare.md", out / "compare.html")
    doc = {
        "a": result.a.summary.run.directory,
        "b": result.b.summary.run.directory,
        "experiment": result.a.summary.run.slug,
        "variants": [asdict(r) for r in result.rows],
    }
    write_atomic(paths.json, json.dumps(doc, indent=2) + "\n")
    write_atomic(paths.markdown, render_compare_markdown(result))
    write_atomic(paths.html, render_compare_html(result))
    return paths
