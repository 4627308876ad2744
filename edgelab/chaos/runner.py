"""Run an experiment: per variant, a fresh lab, steady state, load + method, rollbacks, teardown.

    result = await run_experiment(experiment, source=path, out_root=Path("runs"),
                                  lab_factory=embedded_lab, load_factory=locust_load)
    result.run_dir, result.status   # "complete" | "partial"

The runner knows nothing of toxics or edges: it calls catalogue entries by name. Rollbacks
always run — on success, a failed action, an exception, Ctrl-C or SIGTERM (cancellation) —
followed by the undo of every fault the run injected; then the lab is torn down. Everything is
journaled as it happens, so a run that dies still leaves a usable partial run directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import yaml

from edgelab.chaos.activity import run_activity
from edgelab.chaos.context import LabView, RunContext
from edgelab.chaos.journal import Journal
from edgelab.chaos.model import Activity, Experiment
from edgelab.chaos.scrape import scrape_forever
from edgelab.errors import ConfigError


class LoadHandle(Protocol):
    """A running load; ends by itself after its duration, or earlier when stopped."""

    async def wait(self) -> None: ...

    async def stop(self) -> None: ...


# A load may also have `started_at` (epoch seconds of its real t=0); lab time counts from there.

LabFactory = Callable[[Experiment, Path], AbstractAsyncContextManager[LabView]]
LoadFactory = Callable[[Experiment, LabView, Path], Awaitable[LoadHandle]]


@dataclass
class RunResult:
    run_dir: Path
    status: str
    variants: list[str]


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "experiment"


def new_run_dir(out_root: Path, slug: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = out_root / f"{stamp}-{slug}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = out_root / f"{stamp}-{slug}-{n}"
    (run_dir / "variants").mkdir(parents=True)
    return run_dir


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


class _Clock:
    """Lab time: seconds since this variant's load started (None before it started)."""

    def __init__(self) -> None:
        self.t0: float | None = None

    def now(self) -> float | None:
        return None if self.t0 is None else time.monotonic() - self.t0


async def _steady_state(
    ctx: RunContext, experiment: Experiment, journal: Journal, phase: str, clock: _Clock
) -> bool:
    held = True
    for probe in experiment.steady_state_hypothesis.probes:
        status, _ = await run_activity(
            ctx, probe, journal, t=clock.now(), phase=f"steady-state-{phase}"
        )
        held = held and status == "ok"
    journal.event(
        "steady-state",
        name=experiment.steady_state_hypothesis.title,
        status="ok" if held else "deviated",
        variant=ctx.variant,
        t=clock.now(),
        detail={"phase": phase},
    )
    return held


async def _method(
    ctx: RunContext, activities: Sequence[Activity], journal: Journal, clock: _Clock
) -> None:
    for activity in activities:
        if activity.at_s is not None:
            assert clock.t0 is not None
            await asyncio.sleep(max(0.0, clock.t0 + activity.at_s - time.monotonic()))
        if activity.pause_before_s:
            await asyncio.sleep(activity.pause_before_s)
        if activity.fault == "start":
            journal.event("fault-start", name=activity.name, variant=ctx.variant, t=clock.now())
        await run_activity(ctx, activity, journal, t=clock.now(), phase="method")
        if activity.fault == "end":
            journal.event("fault-end", name=activity.name, variant=ctx.variant, t=clock.now())
        if activity.pause_after_s:
            await asyncio.sleep(activity.pause_after_s)


async def _rollbacks(
    ctx: RunContext, experiment: Experiment, journal: Journal, clock: _Clock
) -> None:
    """The experiment's rollbacks, then the undo of everything the run injected (newest first)."""
    for activity in experiment.rollbacks:
        status, _ = await run_activity(ctx, activity, journal, t=clock.now(), phase="rollback")
        journal.event(
            "rollback", name=activity.name, status=status, variant=ctx.variant, t=clock.now()
        )
    while ctx.undo:
        description, undo = ctx.undo.pop()
        try:
            await asyncio.wait_for(undo(), 30)
            status, detail = "ok", {}
        except Exception as e:  # keep undoing the rest; the journal says what was left
            status, detail = "failed", {"error": f"{type(e).__name__}: {e}"}
        journal.event(
            "rollback",
            name=description,
            status=status,
            variant=ctx.variant,
            t=clock.now(),
            detail=detail,
        )


@contextlib.asynccontextmanager
async def _scraping(lab: LabView, out: Path, http: aiohttp.ClientSession) -> AsyncIterator[None]:
    task = asyncio.create_task(scrape_forever(lab, out, http))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run_variant(
    experiment: Experiment,
    variant: str,
    run_dir: Path,
    journal: Journal,
    lab_factory: LabFactory,
    load_factory: LoadFactory,
    http: aiohttp.ClientSession,
) -> None:
    vexp = experiment.for_variant(variant)
    vdir = run_dir / "variants" / variant
    vdir.mkdir(parents=True, exist_ok=True)
    clock = _Clock()
    journal.event("variant-start", name=variant, variant=variant)
    try:
        async with lab_factory(vexp, vdir) as lab:
            journal.event(
                "lab-up",
                variant=variant,
                detail={n: dict(p.addresses) for n, p in lab.processes.items()},
            )
            ctx = RunContext(lab=lab, http=http, variant=variant)
            async with _scraping(lab, vdir / "metrics.jsonl", http):
                try:
                    await _steady_state(ctx, vexp, journal, "before", clock)
                    load = await load_factory(vexp, lab, vdir)
                    started_at = getattr(load, "started_at", None) or time.time()
                    clock.t0 = time.monotonic() - max(0.0, time.time() - started_at)
                    journal.event(
                        "load-start",
                        variant=variant,
                        t=0.0,
                        ts=started_at,
                        detail={"duration_s": vexp.load.duration_s},
                    )
                    try:
                        await _method(ctx, vexp.method, journal, clock)
                        await load.wait()
                    finally:
                        await load.stop()
                        journal.event("load-stop", variant=variant, t=clock.now())
                    await _steady_state(ctx, vexp, journal, "after", clock)
                finally:
                    await _rollbacks(ctx, vexp, journal, clock)
        journal.event("lab-down", variant=variant, t=clock.now())
    except (asyncio.CancelledError, KeyboardInterrupt):
        journal.event("interrupted", variant=variant, t=clock.now(), status="failed")
        raise
    except ConfigError:
        raise
    except Exception as e:  # a broken variant is reported; the next variant still runs
        journal.event(
            "error",
            variant=variant,
            t=clock.now(),
            status="failed",
            detail={"error": f"{type(e).__name__}: {e}"},
        )
    finally:
        journal.event("variant-end", name=variant, variant=variant, t=clock.now())


async def run_experiment(
    experiment: Experiment,
    *,
    source: Path | None,
    out_root: Path,
    lab_factory: LabFactory,
    load_factory: LoadFactory,
    variants: Sequence[str] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Run the chosen variants (all by default) one after another, each on a fresh lab."""
    chosen = list(variants or experiment.variant_names())
    unknown = [v for v in chosen if v not in experiment.variant_names()]
    if unknown:
        raise ConfigError(
            f"--variant: unknown {', '.join(unknown)} (this experiment has {', '.join(experiment.variant_names())})"
        )
    slug = slugify(source.stem if source is not None else experiment.title)
    run_dir = new_run_dir(out_root, slug)
    if source is not None:
        (run_dir / "experiment.yaml").write_text(
            source.read_text(encoding="utf-8"), encoding="utf-8"
        )
    else:
        (run_dir / "experiment.yaml").write_text(
            yaml.safe_dump(experiment.model_dump(mode="json", by_alias=True))
        )
    meta: dict[str, Any] = {
        "schema": 1,
        "experiment": {
            "title": experiment.title,
            "slug": slug,
            "description": experiment.description,
            "models": list(experiment.models),
            "sources": list(experiment.sources),
            "tags": list(experiment.tags),
        },
        "started_at": time.time(),
        "ended_at": None,
        "status": "partial",
        "variants": chosen,
        "compression": experiment.time.compression,
        "load": experiment.load.model_dump(mode="json"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    _write_json(run_dir / "run.json", meta)
    journal = Journal(run_dir / "journal.jsonl")
    if on_event is not None:
        journal.observers.append(on_event)
    journal.event("run-start", name=experiment.title, detail={"variants": chosen})
    status = "partial"
    try:
        async with aiohttp.ClientSession() as http:
            for variant in chosen:
                await _run_variant(
                    experiment, variant, run_dir, journal, lab_factory, load_factory, http
                )
        status = "complete"
    finally:
        meta["ended_at"] = time.time()
        meta["status"] = status
        _write_json(run_dir / "run.json", meta)
        journal.event(
            "run-end", status="ok" if status == "complete" else "failed", detail={"status": status}
        )
        journal.close()
    return RunResult(run_dir, status, chosen)
