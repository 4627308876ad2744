"""Requests per second one Locust process generates, and with `--workers 2` (issue 7).

    python benchmarks/locust_rps.py                 # or: make bench-locust
    python benchmarks/locust_rps.py --runs 3 --duration 8 --users 32

The target is nginx answering a fixed 1 KiB body straight from its config (`return 200`), so
the load generator, not the server, is the bottleneck. Each configuration runs through
`edgelab.loadgen.surge.run_surge` (Locust headless in subprocesses, as `edgelab surge` does):
  fast      bare FastHttpUser (geventhttpclient), one process
  http      bare HttpUser (requests), one process
  edgelab   edgelab's own BrowserUser with think time 0: path choice, retries off, every
            attempt recorded to requests.csv; one process
  fast-w2   bare FastHttpUser, master + 2 workers
rps = requests / (last request - first request) from Locust's final stats (locust.json). The
machine is shared, so Locust rarely gets a whole core: `per core` divides the requests sent
between the first and the last progress sample by the CPU seconds all Locust processes used in
that window (what one fully busy core would send); `peak cpu` is the busiest process's peak. Figures are medians of `--runs`;
configurations interleave within a round, so a noisy neighbour hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import machine_note, nginx_proxy  # noqa: E402
from edgelab.loadgen.shapes import Steady  # noqa: E402
from edgelab.loadgen.surge import Progress, SurgeResult, log_tail, run_surge  # noqa: E402
from edgelab.loadgen.targets import parse_targets  # noqa: E402

BENCH_USERS = Path(__file__).resolve().parent / "locust_users.py"
BODY = "x" * 1024


@dataclass(frozen=True)
class Config:
    name: str
    workers: int
    user_class: str | None
    """A class of benchmarks/locust_users.py, or None for edgelab's own locustfile."""


CONFIGS = (
    Config("fast", 0, "FastBench"),
    Config("http", 0, "HttpBench"),
    Config("edgelab", 0, None),
    Config("fast-w2", 2, "FastBench"),
)


def rps_of(result: SurgeResult) -> float:
    """Requests per second over the span between the first and the last request."""
    stats = json.loads((result.out_dir / "locust.json").read_text())
    requests = sum(e["num_requests"] for e in stats)
    start = min(e["start_time"] for e in stats)
    end = max(e["last_request_timestamp"] or start for e in stats)
    return requests / (end - start) if end > start else 0.0


def run_one(
    config: Config, url: str, users: int, duration_s: float, out: Path
) -> tuple[float, float]:
    targets = parse_targets(
        {"cdn-a": [url], "mix": {"browser": 1}, "think_time_scale": 0.0}, "benchmark"
    )
    shape = Steady.model_validate({"users": users, "spawn_rate": 1000, "duration_s": duration_s})
    extra = ("--host", url, config.user_class) if config.user_class else ()
    samples: list[Progress] = []
    handle = run_surge(
        targets,
        shape,
        None,
        out,
        workers=config.workers,
        locustfile=BENCH_USERS if config.user_class else None,
        extra_args=extra,
        on_progress=samples.append,
    )
    result = handle.wait(duration_s + 120)
    if result.exit_code != 0:
        raise RuntimeError(f"{config.name}: Locust failed:\n{log_tail(out, 30)}")
    busy = [p for p in samples if p.requests > 0]
    per_core = 0.0
    if len(busy) >= 2 and busy[-1].cpu_s > busy[0].cpu_s:
        per_core = (busy[-1].requests - busy[0].requests) / (busy[-1].cpu_s - busy[0].cpu_s)
    return rps_of(result), per_core, result.cpu_max_percent


async def main(args: argparse.Namespace) -> None:
    figures: dict[str, list[tuple[float, float, float]]] = {c.name: [] for c in CONFIGS}
    async with nginx_proxy("http://127.0.0.1:9", extra_location=f'return 200 "{BODY}";') as url:
        with tempfile.TemporaryDirectory(prefix="edgelab-locust-bench-") as tmp:
            for n in range(args.runs):
                for config in CONFIGS:
                    out = Path(tmp) / f"{config.name}-{n}"
                    rps, per_core, cpu = await asyncio.to_thread(
                        run_one, config, url, args.users, args.duration, out
                    )
                    figures[config.name].append((rps, per_core, cpu))
                    print(
                        f"round {n + 1} {config.name:8} {rps:7.0f} rps  {per_core:7.0f} per core"
                        f"  peak cpu {cpu:4.0f}%"
                    )
    print(
        f"\n{machine_note()}; {args.users} users, {args.duration:.0f}s runs, medians of {args.runs}"
    )
    print("| config | req/s | req/s per core | peak Locust CPU |\n|---|---|---|---|")
    med: dict[str, tuple[float, ...]] = {}
    for name, values in figures.items():
        med[name] = tuple(statistics.median(v[i] for v in values) for i in range(3))
        rps, per_core, cpu = med[name]
        print(f"| {name} | {rps:.0f} | {per_core:.0f} | {cpu:.0f}% |")
    print(
        f"\nper core: FastHttpUser / HttpUser {med['fast'][1] / med['http'][1]:.2f}x; "
        f"edgelab users / bare FastHttpUser {med['edgelab'][1] / med['fast'][1]:.2f}x; "
        f"req/s: --workers 2 / one process {med['fast-w2'][0] / med['fast'][0]:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps({k: [list(v) for v in vs] for k, vs in figures.items()}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--json", type=Path, default=None)
    asyncio.run(main(parser.parse_args()))
