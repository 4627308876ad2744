"""Real Locust runs (a few seconds each) against real edges, origin and steering.

Each run is `edgelab.loadgen.surge.run_surge`: Locust headless in subprocesses, writing
requests.csv and its own CSV/HTML/JSON into the run directory. A POP "fails" by having its
backend answer 500 (tests/switch.py), as a POP whose proxy panics does.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp.test_utils import TestServer

from edgelab.loadgen.agents import BOT_UAS, BROWSER_UAS
from edgelab.loadgen.records import RequestRecord, read_requests
from edgelab.loadgen.shapes import Steady
from edgelab.loadgen.surge import Progress, SurgeHandle, SurgeResult, log_tail, run_surge
from edgelab.loadgen.targets import parse_targets
from edgelab.origin.server import OriginServer
from edgelab.steering.config import SteeringConfig
from edgelab.steering.server import SteeringServer
from edgelab.testing.servers import running
from tests.conftest import EdgeFactory
from tests.metrics import metric_value
from tests.switch import Switch

AiohttpServer = Callable[..., Awaitable[TestServer]]

ATTACK_CLASSES = {"sqli", "xss", "traversal", "cmdi"}
FAST = {"think_time_scale": 0.1, "seed": 7, "timeout_s": 5}
REAL_USERS = {"browser": 1, "api": 1, "attacker": 0, "bot": 0}


def start(
    tmp_path: Path,
    targets: dict[str, Any],
    users: int,
    duration_s: float,
    workers: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
) -> SurgeHandle:
    return run_surge(
        parse_targets({**FAST, **targets}, "test"),
        Steady.model_validate({"users": users, "spawn_rate": 100, "duration_s": duration_s}),
        None,
        tmp_path / "run",
        workers=workers,
        on_progress=on_progress,
    )


async def finish(handle: SurgeHandle) -> tuple[SurgeResult, list[RequestRecord]]:
    try:
        result = await asyncio.to_thread(handle.wait, 150)
    finally:
        handle.stop()  # on failure or cancellation too: no Locust outlives a test
    assert result.exit_code == 0, log_tail(handle.out_dir, 40)
    return result, read_requests(handle.out_dir / "requests.csv")


def locust_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


async def test_surge_records_every_attempt_by_profile_and_route(
    tmp_path: Path, aiohttp_server: AiohttpServer, make_edge: EdgeFactory
) -> None:
    backend = Switch()
    pop = await make_edge(str((await aiohttp_server(backend.app())).make_url("")), pop="a1")
    progress: list[Progress] = []
    called_at = time.time()
    handle = start(
        tmp_path,
        {
            "cdn-a": [pop.addresses["proxy"]],
            "mix": {"browser": 1, "api": 1, "attacker": 1, "bot": 1},
        },
        users=8,
        duration_s=3,
        on_progress=progress.append,
    )
    try:
        started_at = await asyncio.to_thread(handle.wait_started, 90)
    finally:
        result, rows = await finish(handle)
    # The load's t=0 is when Locust started its users, seconds after the call: what a timeline
    # in lab seconds is laid against.
    assert called_at < started_at == result.started_at <= min(r.ts for r in rows)

    out = result.out_dir
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.html", "locust.json",
                 "surge.json", "targets.json", "shape.json"):  # fmt: skip
        assert (out / name).is_file(), name
    history = locust_rows(out / "locust_stats_history.csv")
    names = {r["Name"] for r in history}
    assert {"page", "static", "api", "search", "Aggregated"} <= names
    assert names <= {"page", "static", "api", "search", "login", "other", "Aggregated"}
    assert any(int(r["User Count"]) == 8 for r in history)
    assert progress, "on_progress was never called"

    assert rows
    assert {r.user for r in rows} == {"browser", "api", "attacker", "bot"}
    assert {r.path for r in rows} == {"edge-a"}
    assert all(r.attempt == 1 and r.final == 1 for r in rows)
    assert all((r.attack == 1) == (r.user == "attacker") for r in rows)
    # Every attempt is a row: as many as Locust's final stats count.
    final_stats = json.loads((out / "locust.json").read_text())
    assert len(rows) == sum(entry["num_requests"] for entry in final_stats)

    # What reached the POP's origin carried the marker exactly when it was an attack (the
    # backend answers no-store, so nothing came from a cache; blocked ones never arrived). A
    # user stopped at the end may leave one request that arrived but was never recorded.
    marked = [m for m in backend.markers if m is not None]
    assert set(marked) <= ATTACK_CLASSES
    attacks_ok = sum(1 for r in rows if r.attack and r.status == 200)
    others_ok = sum(1 for r in rows if not r.attack and r.status == 200)
    assert any(r.attack for r in rows)
    assert attacks_ok <= len(marked) <= attacks_ok + 8
    assert others_ok <= len(backend.markers) - len(marked) <= others_ok + 8

    # The profiles give bot management something real to separate: the POP's bot score (passed
    # to the origin) is lower for the scrapers than for the browsers.
    def scores(agents: tuple[str, ...]) -> list[int]:
        return [
            int(h["x-edgelab-bot-score"])
            for h in backend.load_headers
            if h.get("user-agent") in agents and "x-edgelab-bot-score" in h
        ]

    bots, browsers = scores(BOT_UAS), scores(BROWSER_UAS)
    assert bots and browsers
    assert sum(bots) / len(bots) + 20 < sum(browsers) / len(browsers)


async def test_none_keeps_failing_until_stopped(
    tmp_path: Path, aiohttp_server: AiohttpServer, make_edge: EdgeFactory, origin: OriginServer
) -> None:
    backend = Switch()
    backend.failing = True
    pop = await make_edge(str((await aiohttp_server(backend.app())).make_url("")), pop="a1")
    enough = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.requests >= 20:
            enough.set()

    handle = start(
        tmp_path,
        {"cdn-a": [pop.addresses["proxy"]], "origin": origin.addresses["http"], "mix": REAL_USERS},
        users=4,
        duration_s=300,  # ended early below, as Ctrl-C or the chaos runner would
        workers=1,  # rows travel from the worker to the master's requests.csv
        on_progress=on_progress,
    )
    pids = [p.pid for p in handle.processes]
    try:
        assert await asyncio.to_thread(enough.wait, 120), "fewer than 20 requests in 120 s"
        await asyncio.to_thread(handle.stop)
    finally:
        result, rows = await finish(handle)
    assert result.stopped_early and result.workers == 1 and result.duration_s < 250
    for pid in pids:  # no Locust process outlives the run
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (result.out_dir / "locust.html").is_file()  # reports are written on an early stop too
    assert len(rows) >= 20
    assert {(r.path, r.status, r.attempt, r.final) for r in rows} == {("edge-a", 500, 1, 1)}


async def test_retry_direct_recovers_each_request_at_the_origin(
    tmp_path: Path,
    aiohttp_server: AiohttpServer,
    make_edge: EdgeFactory,
    origin: OriginServer,
    http: aiohttp.ClientSession,
) -> None:
    backend = Switch()
    backend.failing = True
    # WAF off: its 403 for the attacker's requests would be a final answer, not a failure.
    pop = await make_edge(
        str((await aiohttp_server(backend.app())).make_url("")), pop="a1", waf={"mode": "off"}
    )
    users = 6
    handle = start(
        tmp_path,
        {
            "cdn-a": [pop.addresses["proxy"]],
            "origin": origin.addresses["http"],
            "bypass": "retry-direct",
            "mix": {"browser": 1, "api": 1, "attacker": 1},
        },
        users=users,
        duration_s=2,
    )
    _, rows = await finish(handle)
    edge = [r for r in rows if r.path == "edge-a"]
    direct = [r for r in rows if r.path == "origin-direct"]
    assert edge and direct and len(edge) + len(direct) == len(rows)
    assert {(r.status, r.attempt, r.final) for r in edge} == {(500, 1, 0)}
    assert {(r.attempt, r.final) for r in direct} == {(2, 1)}
    assert all(r.status < 500 for r in direct)
    # One fallback per failed request; a user stopped between its two attempts loses one.
    assert 0 <= len(edge) - len(direct) <= users
    # With the CDN out of the path, the attacks reach the origin, which counts the marker.
    async with http.get(f"{origin.addresses['http']}/metrics") as r:
        reached = metric_value(await r.text(), "edgelab_origin_attack_requests_total")
    sent = sum(1 for r in direct if r.attack)
    assert sent > 0 and sent <= reached <= sent + users


@pytest.mark.parametrize(
    ("bypass", "moves_to"), [("dns-failover", "origin-direct"), ("multi-cdn", "edge-b")]
)
async def test_steered_clients_move_after_detection_and_ttl(
    tmp_path: Path,
    aiohttp_server: AiohttpServer,
    make_edge: EdgeFactory,
    origin: OriginServer,
    bypass: str,
    moves_to: str,
) -> None:
    backend = Switch()
    pop_a = await make_edge(str((await aiohttp_server(backend.app())).make_url("")), pop="a1")
    pop_b = await make_edge(origin.addresses["http"], pop="b1", cdn="cdn-b")
    a_url, b_url, direct = (
        pop_a.addresses["proxy"],
        pop_b.addresses["proxy"],
        origin.addresses["http"],
    )
    chain = [{"name": "cdn-a", "urls": [a_url]}]
    if bypass == "multi-cdn":
        chain.append({"name": "cdn-b", "urls": [b_url]})
    chain.append({"name": "origin", "urls": [direct]})
    ttl_s = 1.0
    config = SteeringConfig.model_validate(
        {
            "ttl_s": ttl_s,
            "health": {"interval_s": 0.2, "failures_to_down": 2, "successes_to_up": 2},
            "services": {"www": chain},
        }
    )
    async with running(SteeringServer(config)) as steer:
        handle = start(
            tmp_path,
            {
                "cdn-a": [a_url],
                "cdn-b": [b_url],
                "origin": direct,
                "steering": {"url": steer.addresses["http"]},
                "bypass": bypass,
                "mix": REAL_USERS,
            },
            users=6,
            duration_s=4,
        )
        try:
            await asyncio.wait_for(backend.load_seen.wait(), 90)
            failed_at = time.time()
            backend.failing = True  # CDN A's POP now answers 500 to everyone
            down = await steer.wait_for(a_url, "down", timeout_s=30)
        finally:
            _, rows = await finish(handle)

    assert down.at >= failed_at
    on_a = [r for r in rows if r.path == "edge-a"]
    moved = [r for r in rows if r.path == moves_to]
    assert any(r.status == 200 and r.ts < failed_at for r in on_a), "users never started on A"
    assert moved, f"no request went {moves_to}"
    assert {r.path for r in rows} == {"edge-a", moves_to}
    # Nobody moves before steering has seen the failure...
    assert min(r.ts for r in moved) >= down.at
    # ...and everybody has moved once their cached answer's TTL ran out (generous slack for a
    # busy machine: an answer fetched just before the transition may arrive late).
    assert max(r.ts for r in on_a) <= down.at + ttl_s + 3.0
    assert all(r.status < 500 for r in moved)
    assert all(r.status == 500 for r in on_a if r.ts > down.at)
