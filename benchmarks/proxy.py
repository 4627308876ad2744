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
import sys
from contextlib import AsyncExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (  # noqa: E402
    Cpu,
    Results,
    WrkLoad,
    edge_process,
    interleaved_rounds,
    machine_note,
    nginx_process,
    origin_process,
    print_medians,
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
        return await interleaved_rounds(
            targets,
            phases,
            rounds=args.runs,
            duration_s=args.duration,
            warm_load=WrkLoad(paths=PATHS),
            cpu_phase="saturation",
        )


def report(results: Results, cpu: Cpu, args: argparse.Namespace) -> dict[str, float]:
    print_medians(
        results, cpu, rounds=args.runs, duration_s=args.duration, cpu_phase="saturation"
    )
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
