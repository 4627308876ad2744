"""`edgelab demo`: the 2025-11-18 replay under a surge, without and with a bypass, and the report.

    result, report = asyncio.run(run_demo(DemoOptions()))

Runs the shipped Cloudflare 2025-11-18 experiment on the default lab for the variants `none`,
`dns-failover` and `hardened` (about 50 s each on a 2-core machine), shows progress as it goes,
writes the run directory and the report, and prints the comparison table and the report path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from edgelab.chaos.cli import resolve_experiment
from edgelab.chaos.load import load_experiment
from edgelab.chaos.progress import EventPrinter
from edgelab.chaos.runner import RunResult, run_experiment
from edgelab.chaos.scale import scale_timeline
from edgelab.chaos.wiring import EmbeddedLab, locust_load_factory
from edgelab.errors import ConfigError

DEMO_EXPERIMENT = "cloudflare-2025-11-18"
DEMO_VARIANTS = ("none", "dns-failover", "hardened")


@dataclass(frozen=True)
class DemoOptions:
    experiment: str = DEMO_EXPERIMENT
    """A shipped experiment name or a file."""
    variants: tuple[str, ...] = DEMO_VARIANTS
    duration_s: float | None = None
    """Load duration per variant; the timeline scales with it. None keeps the file's."""
    out_root: Path = Path("runs")
    origin_url: str | None = None
    report: bool = True
    console: Console = field(default_factory=Console)


def _pct(x: object) -> str:
    return f"{x * 100:.1f}%" if isinstance(x, int | float) else "-"


def _num(x: object, fmt: str = "{:.0f}") -> str:
    return fmt.format(x) if isinstance(x, int | float) else "-"


def comparison_table(summary: dict[str, Any]) -> Table:
    """The terminal version of the report's comparison table, from summary.json."""
    table = Table(
        title="What each architecture did during the fault", title_justify="left", pad_edge=False
    )
    for column in (
        "variant",
        "ok in fault",
        "ok overall",
        "p95 ms",
        "origin x base",
        "attacks in",
        "detect s",
        "mitigate s",
        "recover s",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for v in summary.get("variants", []):
        origin = v.get("origin") or {}
        table.add_row(
            v["name"],
            _pct(v.get("availability_in_window")),
            _pct(v.get("availability_overall")),
            _num((v.get("latency_in_window") or {}).get("p95_ms")),
            _num(origin.get("peak_vs_baseline"), "{:.1f}"),
            _num(v.get("attack_requests_to_origin")),
            _num(v.get("time_to_detect_s"), "{:.1f}"),
            _num(v.get("time_to_mitigate_s"), "{:.1f}"),
            _num(v.get("time_to_recover_s"), "{:.1f}"),
        )
    return table


async def run_demo(options: DemoOptions) -> tuple[RunResult, Path | None]:
    """Run the demo; returns the run and the report path (None when reports are off)."""
    console = options.console
    path = resolve_experiment(options.experiment)
    experiment = load_experiment(path)
    variants = list(options.variants or experiment.variant_names())
    unknown = [v for v in variants if v not in experiment.variant_names()]
    if unknown:
        raise ConfigError(
            f"--variant: unknown {', '.join(unknown)} (this experiment has "
            f"{', '.join(experiment.variant_names())})"
        )
    if options.duration_s is not None:
        experiment = scale_timeline(experiment, options.duration_s)
    console.rule(f"[bold]{experiment.title}")
    console.print(
        f"variants: {', '.join(variants)} · {experiment.load.duration_s:.0f} lab s of load each "
        f"· 1 lab s = {experiment.time.compression:.0f} s of the incident"
    )

    def lab_event(event: object) -> None:
        kind = getattr(event, "kind", "")
        if kind in ("up", "failed", "exited", "restarting"):
            console.print(
                f"[dim]   lab: {kind} {getattr(event, 'name', '')} {getattr(event, 'detail', '')}[/dim]"
            )

    result = await run_experiment(
        experiment,
        source=path,
        out_root=options.out_root,
        lab_factory=EmbeddedLab(
            experiment_dir=path.parent, origin_url=options.origin_url, on_event=lab_event
        ),
        load_factory=locust_load_factory(),
        variants=variants,
        on_event=EventPrinter(console),
    )
    report_path: Path | None = None
    if options.report:
        from edgelab.report.render import write_report

        paths = write_report(result.run_dir)
        report_path = paths.html
        summary = json.loads(paths.json.read_text())
        console.print(comparison_table(summary))
        for v in summary.get("variants", []):
            for finding in v.get("findings", []):
                console.print(f" • {finding}")
    console.print(f"run directory: {result.run_dir}")
    if report_path is not None:
        console.print(f"[bold]report: {report_path}")
    return result, report_path
