"""The edge's miss path against the origin alone and against nginx, in one run (issue 2).

    python benchmarks/proxy.py                  # or: make bench
    python benchmarks/proxy.py --runs 5 --duration 5 --json out.json

Measures requests/s and p50/p99 with wrk of
  (a) the origin directly (service time 0, so the proxies are what is measured),
  (b) the edge in front of it, every request a miss (no cache stage in the path),
  (c) nginx as a plain `proxy_pass` reverse proxy (no cache, 1 worker) in front of the same origin,
at a moderate load (a few connections with think time, well below saturation: latency) and at
saturation (connections back to back: throughput). Each figure is the median of `--runs`
rounds; the rounds interleave the targets so that a noisy neighbour hits all of them alike.
Prints the ratios the targets are stated in: the edge's added p50 latency over the origin at
moderate load (target <= 1 ms) and edge rps / nginx rps at saturation (target >= 0.25). Also
the server processes' CPU time per request at saturation (from /proc), and the ratio of those:
requests/s depend on what else the (shared) machine runs, CPU per request much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from contextlib import AsyncExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (  # noqa: E402
    WrkLoad,
    WrkResult,
    edge_process,
    machine_note,
    median_result,
    nginx_process,
    origin_process,
    process_cpu_s,
    run_wrk,
)

PATHS = ("/api/cart", "/api/user/7", "/api/stock?sku=42")
"""Small (512 B) `private, no-store` answers: the edge's cache looks them up and never stores
them, so every request takes the miss path to the origin."""

EDGE_VARIANTS: dict[str, dict[str, object]] = {
    "pool": {"upstream": {"client": "pool"}},
    "session": {"upstream": {"client": "session"}},
    "pool-bare": {
        "upstream": {"client": "pool"},
        "cache": {"enabled": False},
        "bot": {"enabled": False},
        "waf": {"mode": "off"},
    },
}
"""Edge configs measured: the default stages with each upstream client, and the proxy core
alone (cache, bot management and WAF off)."""


Results = dict[str, dict[str, WrkResult]]
"""phase -> target -> median wrk result."""
Cpu = dict[str, float]
"""target -> median server CPU microseconds per request at saturation."""


async def measure(args: argparse.Namespace) -> tuple[Results, Cpu]:
    async with AsyncExitStack() as stack:
        origin = await stack.enter_async_context(origin_process(service_time_ms=0))
        origin_url = origin.addresses["http"]
        targets = {"origin": (origin_url, origin.process.pid)}
        for name in args.edges:
            edge = await stack.enter_async_context(
                edge_process(origin_url, config=EDGE_VARIANTS[name])
            )
            targets[f"edge-{name}"] = (edge.addresses["proxy"], edge.process.pid)
        nginx = await stack.enter_async_context(nginx_process(origin_url, workers=1))
        targets["nginx"] = (nginx.url, nginx.pid)

        phases = {
            "moderate": dict(
                connections=args.moderate_connections,
                load=WrkLoad(paths=PATHS, delay_ms=args.think_ms),
            ),
            "saturation": dict(connections=args.connections, load=WrkLoad(paths=PATHS)),
        }
        runs: dict[str, dict[str, list[WrkResult]]] = {p: {t: [] for t in targets} for p in phases}
        cpu_runs: dict[str, list[float]] = {t: [] for t in targets}
        for url, _ in targets.values():  # warm up: connections, pools, caches of the OS
            await run_wrk(url, connections=4, duration_s=1, load=WrkLoad(paths=PATHS))
        for round_no in range(1, args.runs + 1):
            for phase, opts in phases.items():
                for target, (url, pid) in targets.items():
                    cpu_before = process_cpu_s(pid)
                    result = await run_wrk(url, duration_s=args.duration, **opts)
                    cpu_us = (process_cpu_s(pid) - cpu_before) * 1e6 / max(result.requests, 1)
                    runs[phase][target].append(result)
                    if phase == "saturation":
                        cpu_runs[target].append(cpu_us)
                    print(
                        f"round {round_no} {phase:10} {target:14} {result.row()}  "
                        f"server CPU {cpu_us:5.0f} us/req",
                        flush=True,
                    )
        medians = {p: {t: median_result(rs) for t, rs in by.items()} for p, by in runs.items()}
        return medians, {t: statistics.median(c) for t, c in cpu_runs.items()}


def report(results: Results, cpu: Cpu, args: argparse.Namespace) -> dict[str, float]:
    print(f"\nmedian of {args.runs} runs, {args.duration:g} s each ({machine_note()})")
    for phase, by in results.items():
        print(f"\n{phase}:")
        for target, r in by.items():
            extra = f"  server CPU {cpu[target]:5.0f} us/req" if phase == "saturation" else ""
            print(f"  {target:14} {r.row()}{extra}")
    moderate, saturation = results["moderate"], results["saturation"]
    ratios: dict[str, float] = {}
    print()
    for target in moderate:
        if target.startswith("edge-") or target == "nginx":
            added = moderate[target].p50_ms - moderate["origin"].p50_ms
            ratios[f"{target} added p50 ms (moderate)"] = added
            print(f"{target:14} adds {added:6.3f} ms at p50 over the origin (moderate load)")
    for target in saturation:
        if target.startswith("edge-"):
            ratio = saturation[target].rps / saturation["nginx"].rps
            by_cpu = cpu["nginx"] / cpu[target]
            ratios[f"{target} rps / nginx rps"] = ratio
            ratios[f"{target} nginx CPU/req / edge CPU/req"] = by_cpu
            print(
                f"{target:14} forwards {ratio:5.2f}x nginx's requests/s (saturation); "
                f"per CPU second {by_cpu:5.2f}x nginx's"
            )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="saturation connections")
    parser.add_argument("--moderate-connections", type=int, default=4)
    parser.add_argument(
        "--think-ms", type=float, default=5.0, help="think time per request at moderate load"
    )
    parser.add_argument(
        "--edges",
        nargs="+",
        default=list(EDGE_VARIANTS),
        choices=list(EDGE_VARIANTS),
        help="edge configurations to measure (EDGE_VARIANTS)",
    )
    parser.add_argument("--json", type=Path, help="also write the medians and ratios here")
    args = parser.parse_args()
    results, cpu = asyncio.run(measure(args))
    ratios = report(results, cpu, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "results": {
                        p: {t: vars(r) for t, r in by.items()} for p, by in results.items()
                    },
                    "server_cpu_us_per_request": cpu,
                    "ratios": ratios,
                    "machine": machine_note(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
