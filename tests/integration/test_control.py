"""One control plane, several POPs, real sockets: the 2025-11-18 mechanism end to end.

Every wait here waits for a condition (a POP reported, a poll connected) with a generous
deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import statistics
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edgelab.controlplane.app import ControlServer
from edgelab.edge.exchange import Exchange
from edgelab.edge.server import EdgeServer
from edgelab.edge.stages.bot import default_feature_file
from edgelab.origin.server import OriginServer
from edgelab.testing.clients import APPS, CLIENT_PROFILES, PROFILE_IS_BOT
from edgelab.testing.servers import running
from tests.conftest import EdgeFactory
from tests.metrics import metric_value
from tests.waiting import until

BROWSER = CLIENT_PROFILES["chrome"]
BOT = CLIENT_PROFILES["python-requests"]
LOGIN_RULE = {"id": "login-bots", "path_prefix": "/login", "score_below": 30}


class Plane:
    """A running control plane and a client for its API."""

    def __init__(self, server: ControlServer, http: aiohttp.ClientSession) -> None:
        self.server, self.http = server, http

    @property
    def url(self) -> str:
        return self.server.addresses["http"]

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, f"{self.url}{path}", json=body) as r:
            data = await r.json()
            assert r.status == status, data
            return data

    async def push(self, kind: str = "bot-features", **body: Any) -> Any:
        body.setdefault("wait_s", 20)
        return await self.call("POST", f"/v1/artifacts/{kind}", body, status=201)

    async def wait_connected(self, n: int) -> None:
        async def connected() -> bool:
            pops = (await self.call("GET", "/v1/pops"))["pops"]
            return bool(sum(p["connected"] for p in pops) >= n)

        await until(connected, f"{n} POPs subscribed")


@pytest.fixture
async def plane(stack: AsyncExitStack, http: aiohttp.ClientSession) -> Plane:
    server = await stack.enter_async_context(running(ControlServer()))
    return Plane(server, http)


async def make_pops(
    make_edge: EdgeFactory,
    origin: OriginServer,
    plane: Plane,
    names: list[str],
    bot: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> list[EdgeServer]:
    pops = []
    for i, name in enumerate(names):
        section = bot[i] if isinstance(bot, list) else (bot or {})
        pops.append(
            await make_edge(
                origin.addresses["http"],
                pop=name,
                control={"url": plane.url, "poll_timeout_s": 5, "retry_s": 0.05},
                bot=section,
            )
        )
    await plane.wait_connected(len(names))
    return pops


async def get(
    http: aiohttp.ClientSession,
    edge: EdgeServer,
    path: str = "/page/1",
    headers: list[tuple[str, str]] = BROWSER,
    method: str = "GET",
) -> int:
    async with http.request(
        method,
        f"{edge.addresses['proxy']}{path}",
        headers=headers,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    ) as r:
        await r.read()
        return r.status


async def admin(http: aiohttp.ClientSession, edge: EdgeServer, path: str) -> Any:
    async with http.get(f"{edge.addresses['admin']}{path}") as r:
        return await r.json() if path != "/metrics" else await r.text()


async def test_good_push_reaches_all_three_and_lag_is_measured(
    make_edge: EdgeFactory, origin: OriginServer, plane: Plane, http: aiohttp.ClientSession
) -> None:
    pops = await make_pops(make_edge, origin, plane, ["ams", "fra", "lhr"])
    out = await plane.push(content=default_feature_file().decode(), note="fresh file")
    prop = out["propagation"]
    assert out["version"]["version"] == 1
    assert prop["complete"] and prop["targets"] == ["ams", "fra", "lhr"]
    assert prop["outcomes"] == {"applied": 3}
    assert 0 < prop["lag_all_s"] < 20
    for pop in pops:
        assert pop.artifacts.applied["bot-features"] == 1
        config = await admin(http, pop, "/config")
        assert config["artifacts"]["bot-features"] == {"version": 1, "outcome": "applied"}
        text = await admin(http, pop, "/metrics")
        assert metric_value(text, "edgelab_edge_artifact_version", kind="bot-features") == 1
        assert metric_value(text, "edgelab_edge_control_connected") == 1
        assert await get(http, pop) == 200
    status = await plane.call("GET", "/v1/pops")
    assert {p["pop"]: p["running"]["bot-features"]["version"] for p in status["pops"]} == {
        "ams": 1,
        "fra": 1,
        "lhr": 1,
    }
    async with http.get(f"{plane.url}/metrics") as r:
        text = await r.text()
    assert metric_value(text, "edgelab_control_pop_version", pop="fra", kind="bot-features") == 1
    assert metric_value(text, "edgelab_control_propagation_lag_seconds_count") == 3
    assert metric_value(text, "edgelab_control_pops_behind", kind="bot-features") == 0


async def test_partial_rollout_reaches_only_its_targets(
    make_edge: EdgeFactory, origin: OriginServer, plane: Plane
) -> None:
    pops = await make_pops(make_edge, origin, plane, ["ams", "fra", "lhr"])
    listed = await plane.push(content=default_feature_file().decode(), target={"pops": ["fra"]})
    assert listed["propagation"]["targets"] == ["fra"] and listed["propagation"]["complete"]
    fraction = await plane.push(content=default_feature_file().decode(), target={"fraction": 0.34})
    chosen = fraction["propagation"]["targets"]
    assert len(chosen) == 1 and fraction["propagation"]["complete"]
    # A barrier: a push to all that every POP has reported. A POP processes its poll answers in
    # order, so anything meant for it would have arrived by now.
    await plane.push("killswitches", content='{"modules": {}}')
    applied = {p.config.pop: p.artifacts.applied["bot-features"] for p in pops}
    expected = {"ams": 0, "fra": 1, "lhr": 0}
    expected[chosen[0]] = 2
    assert applied == expected


@pytest.mark.parametrize("mutation", ["duplicate-rows", "truncate", "oversize", "invalid-syntax"])
async def test_bad_file_under_each_failure_policy(
    make_edge: EdgeFactory,
    origin: OriginServer,
    plane: Plane,
    http: aiohttp.ClientSession,
    mutation: str,
) -> None:
    policies = ["panic", "degrade", "reject", "fail-open"]
    pops = await make_pops(
        make_edge,
        origin,
        plane,
        policies,
        bot=[{"failure_policy": p, "rules": [LOGIN_RULE]} for p in policies],
    )
    panic, degrade, reject, fail_open = pops
    # Before: browsers pass, bots are blocked on /login everywhere.
    for pop in pops:
        assert await get(http, pop, "/login", BROWSER, "POST") == 200
        assert await get(http, pop, "/login", BOT, "POST") == 403

    out = await plane.push(mutation=mutation)
    assert out["version"]["mutation"] == mutation
    reports = out["propagation"]["reports"]
    assert {p: r["outcome"] for p, r in reports.items()} == {
        "panic": "module_failed",
        "degrade": "module_failed",
        "reject": "rejected",
        "fail-open": "module_failed",
    }

    # panic: every request through the module is a 500, whatever the path (FL2).
    assert [await get(http, panic, path) for path in ("/page/1", "/static/a.js", "/api/x")] == [
        500
    ] * 3
    assert await get(http, panic, "/login", BROWSER, "POST") == 500
    # degrade: everything scores 0, so the login rule blocks real users; other paths pass.
    assert await get(http, degrade, "/login", BROWSER, "POST") == 403
    assert await get(http, degrade, "/page/1", BROWSER) == 200
    # reject: the last known good keeps scoring; the alert metric is raised.
    assert await get(http, reject, "/login", BROWSER, "POST") == 200
    assert await get(http, reject, "/login", BOT, "POST") == 403
    assert reject.artifacts.applied["bot-features"] == 0
    assert metric_value(await admin(http, reject, "/metrics"), "edgelab_bot_alert") == 1
    # fail-open: the module is skipped; bots reach the login page unprotected.
    assert await get(http, fail_open, "/login", BOT, "POST") == 200
    state = await admin(http, fail_open, "/bot/state")
    assert state["mode"] == "fail-open"

    panic_metrics = await admin(http, panic, "/metrics")
    assert metric_value(panic_metrics, "edgelab_edge_stage_errors_total", stage="bot") >= 4
    assert metric_value(panic_metrics, "edgelab_bot_verdicts_total", verdict="panic") >= 4
    degrade_metrics = await admin(http, degrade, "/metrics")
    assert metric_value(degrade_metrics, "edgelab_bot_verdicts_total", verdict="block") >= 1


async def test_rollback_restores_service_and_killswitch_skips_the_module(
    make_edge: EdgeFactory, origin: OriginServer, plane: Plane, http: aiohttp.ClientSession
) -> None:
    pops = await make_pops(make_edge, origin, plane, ["ams", "fra", "lhr"])
    await plane.push(content=default_feature_file().decode())
    bad = await plane.push(mutation="duplicate-rows")
    assert bad["propagation"]["outcomes"] == {"module_failed": 3}
    assert {await get(http, pop) for pop in pops} == {500}

    killed = await plane.call(
        "POST", "/v1/killswitch", {"modules": {"bot": True}, "wait_s": 20}, 201
    )
    assert killed["propagation"]["complete"]
    assert {await get(http, pop) for pop in pops} == {200}
    await plane.call("POST", "/v1/killswitch", {"modules": {"bot": False}, "wait_s": 20}, 201)
    assert {await get(http, pop) for pop in pops} == {500}

    back = await plane.call(
        "POST", "/v1/artifacts/bot-features/rollback", {"wait_s": 20}, status=201
    )
    assert back["version"]["rollback_of"] == 1 and back["version"]["version"] == 3
    assert back["propagation"]["outcomes"] == {"applied": 3}
    assert {await get(http, pop) for pop in pops} == {200}
    assert {await get(http, pop, "/login", BOT, "POST") for pop in pops} == {200}  # no rules


async def test_flapping_generator_moves_the_500_fraction_between_0_and_100(
    make_edge: EdgeFactory, origin: OriginServer, plane: Plane, http: aiohttp.ClientSession
) -> None:
    pops = await make_pops(make_edge, origin, plane, ["ams", "fra", "lhr"])
    await plane.call(
        "POST",
        "/v1/generators",
        {"name": "ff", "period_s": 0.25, "bad_probability": 0.5, "seed": 7},
        status=201,
    )
    fractions: list[float] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40

    def flips() -> int:
        states = [f for f in fractions if f in (0.0, 1.0)]
        return sum(1 for a, b in zip(states, states[1:], strict=False) if a != b)

    while flips() < 3:
        assert loop.time() < deadline, f"500 fraction never flapped: {fractions}"
        statuses = await asyncio.gather(*(get(http, p) for p in pops for _ in range(2)))
        fractions.append(sum(s == 500 for s in statuses) / len(statuses))
    gen = await plane.call("DELETE", "/v1/generators/ff")
    assert gen["generations"] >= 2 and 0 < gen["bad"] < gen["generations"]
    assert 0.0 in fractions and 1.0 in fractions

    back = await plane.call("POST", "/v1/artifacts/bot-features/rollback", {"wait_s": 20}, 201)
    assert back["propagation"]["complete"]
    assert {await get(http, p) for p in pops} == {200}


async def test_pops_keep_serving_when_the_control_plane_is_down_and_a_restart_keeps_versions(
    make_edge: EdgeFactory,
    origin: OriginServer,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    stack: AsyncExitStack,
) -> None:
    first = ControlServer(state_dir=tmp_path / "state")
    await first.start()
    try:
        plane = Plane(first, http)
        pops = await make_pops(
            make_edge, origin, plane, ["ams", "fra", "lhr"], bot={"rules": [LOGIN_RULE]}
        )
        await plane.push(content=default_feature_file().decode(), author="alice")
        v2 = (await plane.push(content=default_feature_file().decode() + "\n"))["version"]
        port = first.port
    finally:
        await first.stop()

    async def all_disconnected() -> bool:
        return not any(p.subscriber and p.subscriber.connected for p in pops)

    await until(all_disconnected, "POPs noticing the control plane is gone")
    for pop in pops:
        assert await get(http, pop) == 200
        assert await get(http, pop, "/login", BOT, "POST") == 403  # still protected
        assert pop.artifacts.applied["bot-features"] == 2
        text = await admin(http, pop, "/metrics")
        assert metric_value(text, "edgelab_edge_control_connected") == 0

    second = await stack.enter_async_context(
        running(ControlServer(state_dir=tmp_path / "state", port=port))
    )
    plane = Plane(second, http)
    again = await plane.call("GET", "/v1/artifacts/bot-features/latest")
    assert again["version"] == 2 and again["checksum"] == v2["checksum"]
    history = (await plane.call("GET", "/v1/artifacts/bot-features"))["versions"]
    assert [v["author"] for v in history] == ["alice", "api"]
    await plane.wait_connected(3)
    v3 = await plane.push(mutation="duplicate-rows")
    assert v3["version"]["version"] == 3
    assert v3["propagation"]["outcomes"] == {"module_failed": 3}


async def test_pushed_edge_config_swaps_the_bot_section_live_and_keeps_identity(
    make_edge: EdgeFactory, origin: OriginServer, plane: Plane, http: aiohttp.ClientSession
) -> None:
    pops = await make_pops(make_edge, origin, plane, ["ams", "fra", "lhr"])
    assert {await get(http, p, "/login", BOT, "POST") for p in pops} == {200}
    config = "pop: pushed\norigin: http://127.0.0.1:1\nbot:\n  rules:\n    - {id: r1, path_prefix: /login, score_below: 30}\n"
    out = await plane.push("edge-config", content=config)
    assert out["propagation"]["outcomes"] == {"applied": 3}
    assert {await get(http, p, "/login", BOT, "POST") for p in pops} == {403}
    assert [p.config.pop for p in pops] == ["ams", "fra", "lhr"]
    assert pops[0].live_config.left_alone == ["origin", "pop"]
    bad = await plane.push("edge-config", content="bot: {failure_policy: sometimes}\n")
    assert bad["propagation"]["outcomes"] == {"rejected": 3}
    assert {await get(http, p, "/login", BOT, "POST") for p in pops} == {403}


async def test_bot_traffic_scores_clearly_lower_than_browser_traffic(
    edge: EdgeServer, http: aiohttp.ClientSession
) -> None:
    scores: dict[bool, list[int]] = {True: [], False: []}

    def observe(ex: Exchange, _: float) -> None:
        if ex.request.headers.get("X-Test-Bot") != "app":
            scores[ex.request.headers.get("X-Test-Bot") == "1"].append(ex.notes["bot_score"])

    edge.observers.append(observe)
    paths = ["/page/1", "/static/app.js", "/static/app.css", "/search?q=shoes", "/page/2"]

    async def user(profile: str, n: int) -> None:
        kind = "app" if profile in APPS else "1" if PROFILE_IS_BOT[profile] else "0"
        marker = [("X-Test-Bot", kind)]
        for i in range(n):
            await get(http, edge, paths[i % len(paths)], CLIENT_PROFILES[profile] + marker)

    # Browsers browse a few pages each; bots and scrapers fetch fast and many.
    await asyncio.gather(
        *(user(p, 10 if PROFILE_IS_BOT[p] is False else 30) for p in CLIENT_PROFILES)
    )
    browser, bot = statistics.mean(scores[False]), statistics.mean(scores[True])
    assert browser - bot > 40, (browser, bot)
    assert min(scores[False]) > bot
