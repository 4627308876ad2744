"""Where a cache hit's time goes, stage by stage, in an edge serving wrk over real sockets.

    python benchmarks/cache_stages.py                     # default edge, then WAF and bot off
    python benchmarks/cache_stages.py --duration 5 --connections 32

The edge runs in this process (uvloop, as `edgelab edge` runs), wrk and the origin in their own.
Each stage hook the pipeline runs is wrapped with a `perf_counter_ns` pair; the figure per hook
is the median over the hits (a median, so that the odd preemption on a shared machine does not
count), and the line `pipeline` is `Pipeline.run` as a whole. Hooks the pipeline skips (their
body only returns None, `edgelab.edge.pipeline.does_nothing`) are listed as skipped, and hooks
a hit never reaches (the origin's) as not reached. `whole`
is this process's CPU time per hit over the run, everything included (the listener, the kernel's
share of the socket writes), the wrapping too (about 0.2 us per wrapped hook).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvloop  # noqa: E402

from benchmarks.cache import PATHS, warm  # noqa: E402
from benchmarks.harness import WrkLoad, machine_note, origin_process, run_wrk  # noqa: E402
from edgelab.config.edge import EdgeConfig  # noqa: E402
from edgelab.edge.exchange import Exchange  # noqa: E402
from edgelab.edge.pipeline import Pipeline, does_nothing, settle  # noqa: E402
from edgelab.edge.server import EdgeServer  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "edge": {},
    "edge-nowaf": {"waf": {"mode": "off"}, "bot": {"enabled": False}},
}
"""The same two edges as `benchmarks/cache.py`: the default one and the cache path alone."""

Hook = Callable[[Exchange], Awaitable[None] | None]


def timed(hook: Hook, samples: list[int]) -> Callable[[Exchange], Awaitable[None]]:
    async def run(ex: Exchange) -> None:
        started = time.perf_counter_ns()
        try:
            await settle(hook(ex))
        finally:
            samples.append(time.perf_counter_ns() - started)

    return run


def instrument(edge: EdgeServer) -> dict[str, list[int]]:
    """Wrap the hooks the pipeline runs and `Pipeline.run`; returns the sample lists."""
    samples: dict[str, list[int]] = {}
    for stage in edge.pipeline.stages:
        for hook in ("request", "response"):
            fn = getattr(stage, hook)
            name = f"{stage.name}.{hook}"
            if does_nothing(fn):
                continue  # the pipeline skips it
            samples[name] = []
            setattr(stage, hook, timed(fn, samples[name]))
    pipeline = Pipeline(edge.pipeline.stages)
    samples["pipeline"] = []
    pipeline.run = timed(pipeline.run, samples["pipeline"])  # type: ignore[method-assign]
    edge.swap_pipeline(pipeline)
    return samples


async def measure(args: argparse.Namespace) -> None:
    async with origin_process(service_time_ms=0, static_bytes=1024) as origin:
        for variant, config in VARIANTS.items():
            cfg = EdgeConfig.model_validate({**config, "origin": origin.addresses["http"]})
            edge = EdgeServer(cfg)
            samples = instrument(edge)
            await edge.start()
            try:
                url = edge.addresses["proxy"]
                await warm(url, "X-Cache")
                await run_wrk(url, connections=4, duration_s=1, load=WrkLoad(paths=PATHS))
                for s in samples.values():
                    s.clear()
                cpu = time.process_time()
                result = await run_wrk(
                    url,
                    connections=args.connections,
                    duration_s=args.duration,
                    load=WrkLoad(paths=PATHS),
                )
                cpu_us = (time.process_time() - cpu) * 1e6 / max(result.requests, 1)
            finally:
                await edge.stop()
            print(f"\n{variant}: {result.row()}")
            print(f"  {'whole (process CPU per hit)':30} {cpu_us:7.1f} us")
            for name, s in sorted(samples.items(), key=lambda kv: -_median(kv[1])):
                shown = f"{_median(s) / 1000:7.1f} us" if s else "    not reached on a hit"
                print(f"  {name:30} {shown}")
            skipped = sorted(
                f"{st.name}.{hook}"
                for st in edge.pipeline.stages
                for hook in ("request", "response")
                if f"{st.name}.{hook}" not in samples
            )
            print(f"  skipped (do nothing): {', '.join(skipped)}")
    print(f"\n({machine_note()})")


def _median(samples: list[int]) -> float:
    return statistics.median(samples) if samples else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of wrk per edge")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    uvloop.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
