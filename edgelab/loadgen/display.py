"""`edgelab surge` in a terminal: run a surge with a live line of time, users, rps, failures.

    result = surge_with_display(targets, shape, None, Path("runs/surge"), workers=2)

Ctrl-C or SIGTERM stops the Locust processes (they still write their reports) and re-raises
KeyboardInterrupt; a Locust that failed by itself raises SurgeError with the end of its log.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from edgelab.loadgen.shapes import Shape
from edgelab.loadgen.surge import (
    CPU_WARN_PERCENT,
    Progress,
    SurgeError,
    SurgeResult,
    log_tail,
    run_surge,
)
from edgelab.loadgen.targets import Targets


def progress_table(p: Progress | None, expected_s: float, cpu_warn: float) -> Table:
    """One row: elapsed/expected, users, rps, failures/s, totals, busiest Locust CPU."""
    table = Table(box=None, pad_edge=False)
    for column in ("time", "users", "rps", "fail/s", "requests", "failures", "locust cpu"):
        table.add_column(column, justify="right")
    if p is None:
        table.add_row(f"0/{expected_s:.0f}s", "starting", "", "", "", "", "")
        return table
    cpu = f"{p.cpu_percent:.0f}%"
    table.add_row(
        f"{p.elapsed_s:.0f}/{expected_s:.0f}s",
        str(p.users),
        f"{p.rps:.0f}",
        f"[red]{p.failures_per_s:.0f}[/]" if p.failures_per_s else "0",
        str(p.requests),
        str(p.failures),
        f"[yellow]{cpu}[/]" if p.cpu_percent > cpu_warn else cpu,
    )
    return table


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def surge_with_display(
    targets: Targets,
    shape: Shape,
    duration_s: float | None,
    out_dir: Path,
    *,
    workers: int = 0,
    mix: str | None = None,
    locustfile: Path | None = None,
    console: Console | None = None,
) -> SurgeResult:
    """Run a surge to its end with a live progress line; raises SurgeError if Locust failed."""
    console = console or Console(stderr=True)
    expected = duration_s if duration_s is not None else shape.duration_s
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        with Live(progress_table(None, expected, CPU_WARN_PERCENT), console=console) as live:

            def show(p: Progress) -> None:
                live.update(progress_table(p, expected, CPU_WARN_PERCENT))

            handle = run_surge(
                targets,
                shape,
                duration_s,
                out_dir,
                workers=workers,
                mix=mix,
                locustfile=locustfile,
                on_progress=show,
            )
            try:
                result = handle.wait()
            except KeyboardInterrupt:
                console.print(f"interrupted: Locust stopped; what it wrote is in {out_dir}")
                raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    if result.exit_code != 0:
        raise SurgeError(
            f"Locust exited with code {result.exit_code}; end of {out_dir / 'locust.log'}:\n"
            + log_tail(out_dir)
        )
    if result.cpu_warning:
        console.print(
            f"[yellow]warning:[/] Locust reached {result.cpu_max_percent:.0f}% CPU: it may have "
            "limited the load (try --workers)"
        )
    return result
