"""Control plane and bot management figures (issue 4). Prints, asserts nothing.

    python benchmarks/control.py                 # both measurements
    python benchmarks/control.py --pops 10 --pushes 15 --runs 3

1. Propagation lag: `edgelab control` and N `edgelab edge` POPs, each its own process, the POPs
   long-polling the control plane. Each push asks the control plane to answer once every POP
   reported the new version (`wait_s`); the figure is the control plane's `lag_all_s` (push
   stored -> last POP's report received), plus the pushing client's own round trip.
   Target: under 200 ms for 10 POPs on loopback.
2. Bot stage cost per request: `BotStage.request` on prepared Exchanges with realistic header
   sets (browsers and bots mixed, a score rule on /login), timed in-process. "warm" = the
   client's fingerprint was seen before (the usual case: clients send many requests); "cold" =
   a new user agent every request (fingerprint cache miss). The figure is CPU time per call
   (`time.process_time`), since wall time on a shared machine counts other people's work.
   Target: under 50 us.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from multidict import CIMultiDict, CIMultiDictProxy  # noqa: E402

from benchmarks.harness import edge_process, machine_note, origin_process  # noqa: E402
from edgelab.config.bot import BotOptions, BotRule  # noqa: E402
from edgelab.edge.artifacts import ArtifactRegistry  # noqa: E402
from edgelab.edge.exchange import ClientRequest, Exchange  # noqa: E402
from edgelab.edge.stages.bot import BotStage, default_feature_file  # noqa: E402
from edgelab.testing.clients import CLIENT_PROFILES  # noqa: E402
from edgelab.testing.servers import running_process  # noqa: E402


async def propagation(pops: int, pushes: int) -> tuple[list[float], list[float]]:
    """(lag_all_s per push, client round trip per push), in seconds."""
    lags: list[float] = []
    trips: list[float] = []
    async with AsyncExitStack() as stack:
        origin = await stack.enter_async_context(origin_process())
        control = await stack.enter_async_context(
            running_process("control", "--log-level", "warning")
        )
        cp = control.addresses["http"]
        for i in range(pops):
            await stack.enter_async_context(
                edge_process(
                    origin.addresses["http"],
                    config={"pop": f"pop-{i}", "control": {"url": cp, "poll_timeout_s": 60}},
                )
            )
        http = await stack.enter_async_context(aiohttp.ClientSession())
        deadline = time.monotonic() + 60
        while True:
            async with http.get(f"{cp}/v1/pops") as r:
                connected = sum(p["connected"] for p in (await r.json())["pops"])
            if connected == pops:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {connected} of {pops} POPs subscribed")
            await asyncio.sleep(0.1)
        base = default_feature_file().decode()
        for k in range(pushes + 1):
            body = {"content": base + f"\n# push {k}\n", "wait_s": 30}
            t0 = time.perf_counter()
            async with http.post(f"{cp}/v1/artifacts/bot-features", json=body) as r:
                out = await r.json()
            trip = time.perf_counter() - t0
            prop = out["propagation"]
            if not prop["complete"]:
                raise RuntimeError(f"push {k} did not reach every POP: {prop['pending']}")
            if k == 0:
                continue  # warm-up: first connections, first parse
            lags.append(prop["lag_all_s"])
            trips.append(trip)
    return lags, trips


def _exchanges(n: int, cold: bool) -> list[Exchange]:
    profiles = list(CLIENT_PROFILES.values())
    paths = ["/page/1", "/static/app.js", "/login", "/search", "/api/cart"]
    out = []
    for i in range(n):
        headers = CIMultiDict([("Host", "shop.example"), *profiles[i % len(profiles)]])
        if cold:
            headers["User-Agent"] = f"{headers.get('User-Agent', '')} build/{i}"
        req = ClientRequest(
            "POST" if paths[i % 5] == "/login" else "GET",
            paths[i % 5],
            "",
            CIMultiDictProxy(headers),
            f"10.0.{i % 7}.{i % 250}",
        )
        out.append(Exchange(req, pop="bench", ray_id="r", upstream_headers=CIMultiDict()))
    return out


async def bot_stage_cost(n: int, cold: bool) -> float:
    """Mean CPU microseconds per `BotStage.request` call (CPU time of this process, so a busy
    shared machine that deschedules us does not count as the stage's cost)."""
    stage = BotStage(
        BotOptions(rules=(BotRule(id="login", path_prefix="/login", score_below=30),)),
        ArtifactRegistry(),
    )
    for ex in _exchanges(200, cold=False):
        stage.request(ex)
    exchanges = _exchanges(n, cold)
    t0 = time.process_time()
    for ex in exchanges:
        stage.request(ex)
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pops", type=int, default=10)
    ap.add_argument("--pushes", type=int, default=15)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--skip-propagation", action="store_true")
    args = ap.parse_args()
    print(f"machine: {machine_note()}")

    warm = [asyncio.run(bot_stage_cost(args.requests, cold=False)) for _ in range(args.runs)]
    cold = [asyncio.run(bot_stage_cost(args.requests // 5, cold=True)) for _ in range(args.runs)]
    print(
        f"bot stage per request: warm median {statistics.median(warm):.1f} us "
        f"(runs {', '.join(f'{w:.1f}' for w in warm)}); cold median "
        f"{statistics.median(cold):.1f} us (runs {', '.join(f'{c:.1f}' for c in cold)}); "
        "target < 50 us"
    )
    if args.skip_propagation:
        return
    medians, p90s, trip_medians = [], [], []
    for run in range(args.runs):
        lags, trips = asyncio.run(propagation(args.pops, args.pushes))
        lags_ms = sorted(x * 1000 for x in lags)
        medians.append(statistics.median(lags_ms))
        p90s.append(lags_ms[int(0.9 * (len(lags_ms) - 1))])
        trip_medians.append(statistics.median(trips) * 1000)
        print(
            f"run {run + 1}: push -> all {args.pops} POPs applied: median {medians[-1]:.1f} ms, "
            f"p90 {p90s[-1]:.1f} ms, max {lags_ms[-1]:.1f} ms; client round trip median "
            f"{trip_medians[-1]:.1f} ms ({len(lags)} pushes)"
        )
    print(
        f"propagation lag to all {args.pops} POPs: median of run medians "
        f"{statistics.median(medians):.1f} ms, median p90 {statistics.median(p90s):.1f} ms "
        f"(target < 200 ms); machine after: {machine_note()}"
    )


if __name__ == "__main__":
    main()
