"""ReportData -> summary.json, summary.md and report.html (Jinja2 templates in templates/).

    paths = write_report(Path("runs/20251118T112000Z-cloudflare-2025-11-18"))
    print(paths.html)

`write_report` is what `edgelab report RUN_DIR` calls: read, compute, render, write. Each file
is written to a temporary name and renamed, so a report is never left half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from edgelab.report import metrics as m
from edgelab.report.charts import Chart, render_charts
from edgelab.report.compare import Comparison
from edgelab.report.model import COLUMNS, Column, ReportData, build_report_data
from edgelab.report.rundir import read_run_dir

COLUMN_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Availability", ("availability_in_window", "availability_overall")),
    ("Errors", ("errors_total",)),
    ("Latency in fault", ("p50_in_window", "p95_in_window", "p99_in_window")),
    ("Latency outside", ("p50_outside_window", "p95_outside_window", "p99_outside_window")),
    (
        "Origin",
        ("origin_peak_vs_baseline", "origin_peak_vs_capacity", "origin_shed", "upstream_timeouts"),
    ),
    ("Cache", ("cache_hit_ratio",)),
    ("Attacks", ("attack_requests_to_origin",)),
    ("Time to (lab s)", ("time_to_detect_s", "time_to_mitigate_s", "time_to_recover_s")),
)
"""How the comparison table groups its columns (every key of `COLUMNS` appears once)."""

SHORT_LABELS = {
    "availability_in_window": "in fault",
    "availability_overall": "overall",
    "errors_total": "count",
    "p50_in_window": "p50",
    "p95_in_window": "p95",
    "p99_in_window": "p99",
    "p50_outside_window": "p50",
    "p95_outside_window": "p95",
    "p99_outside_window": "p99",
    "origin_peak_vs_baseline": "peak / baseline",
    "origin_peak_vs_capacity": "peak / capacity",
    "origin_shed": "503s",
    "upstream_timeouts": "timeouts",
    "cache_hit_ratio": "hit ratio",
    "attack_requests_to_origin": "at origin",
    "time_to_detect_s": "detect",
    "time_to_mitigate_s": "mitigate",
    "time_to_recover_s": "recover",
}


@dataclass(frozen=True)
class ReportPaths:
    json: Path
    markdown: Path
    html: Path


def fmt(value: float | None, kind: str) -> str:
    """One table cell: `n/a` when not measured, else the value in its unit."""
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if kind == "x":
        return f"{value:.1f}×"
    if kind == "s":
        return f"{value:.1f} s"
    return f"{round(value):,}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s} s" if minutes else f"{s} s"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("edgelab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["duration"] = duration
    return env


def table(data: ReportData) -> list[dict[str, Any]]:
    """Rows of the comparison table: per variant, per column, the text and whether it is best."""
    rows = []
    for v in data.summary.variants:
        cells = {
            col.key: {
                "text": fmt(col.get(v), col.kind),
                "best": v.name in data.summary.best.get(col.key, ()),
            }
            for col in COLUMNS
        }
        rows.append({"variant": v, "cells": cells})
    return rows


def _context(data: ReportData) -> dict[str, Any]:
    by_key: Mapping[str, Column] = {c.key: c for c in COLUMNS}
    groups = [(title, [by_key[k] for k in keys]) for title, keys in COLUMN_GROUPS]
    return {
        "s": data.summary,
        "run": data.summary.run,
        "rows": table(data),
        "groups": groups,
        "columns": [c for _, cols in groups for c in cols],
        "short": SHORT_LABELS,
        "healthy": m.HEALTHY_SUCCESS_RATIO,
        "recovery_run_s": m.RECOVERY_RUN_S,
        "generated_at": dt.datetime.now(dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
    }


def render_markdown(data: ReportData) -> str:
    return _env().get_template("summary.md.j2").render(**_context(data))


def render_html(data: ReportData, charts: Sequence[Chart], locust: Mapping[str, Any]) -> str:
    return (
        _env().get_template("report.html.j2").render(**_context(data), charts=charts, locust=locust)
    )


def _compare_context(result: Comparison) -> dict[str, Any]:
    by_key: Mapping[str, Column] = {c.key: c for c in COLUMNS}
    return {
        "a": result.a.summary,
        "b": result.b.summary,
        "rows": result.rows,
        "groups": [(t, [by_key[k] for k in keys]) for t, keys in COLUMN_GROUPS],
        "columns": [by_key[k] for _, keys in COLUMN_GROUPS for k in keys],
        "short": SHORT_LABELS,
        "arrow": {"better": "▲ better", "worse": "▼ worse", "same": "= same", "": ""},
    }


def render_compare_markdown(result: Comparison) -> str:
    return _env().get_template("compare.md.j2").render(**_compare_context(result))


def render_compare_html(result: Comparison) -> str:
    return _env().get_template("compare.html.j2").render(**_compare_context(result))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(run_dir: Path, out_dir: Path | None = None) -> ReportPaths:
    """Read `run_dir`, compute the report and write its three files into `out_dir` (default:
    the run directory). Raises ConfigError for a missing or non-run directory."""
    run = read_run_dir(run_dir)
    data = build_report_data(run)
    out = out_dir or run_dir
    out.mkdir(parents=True, exist_ok=True)
    locust = {v.name: [f"variants/{v.name}/{f}" for f in v.locust_files] for v in run.variants}
    if out.resolve() != run_dir.resolve():
        locust = {}  # the links would not resolve from elsewhere
    paths = ReportPaths(out / "summary.json", out / "summary.md", out / "report.html")
    write_atomic(paths.json, json.dumps(data.summary.model_dump(mode="json"), indent=2) + "\n")
    write_atomic(paths.markdown, render_markdown(data))
    write_atomic(paths.html, render_html(data, render_charts(data), locust))
    return paths
