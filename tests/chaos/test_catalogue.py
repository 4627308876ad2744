"""Each catalogue entry against the real servers, and its undo."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edgelab.chaos.catalogue import CATALOGUE, control, edge, http, origin
from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext
from tests.chaos.fixtures import SHORT, InProcessLab, experiment


@contextlib.asynccontextmanager
async def lab_ctx(tmp_path: Path, **edge: Any) -> AsyncIterator[RunContext]:
    exp = experiment({**SHORT, "lab": {"edge": edge}})
    async with (
        InProcessLab(with_control=True, with_toxiproxy=True)(exp, tmp_path) as lab,
        aiohttp.ClientSession() as session,
    ):
        yield RunContext(lab=lab, http=session, variant="t")


async def undo_all(ctx: RunContext) -> None:
    while ctx.undo:
        await ctx.undo.pop()[1]()


async def test_edge_faults_target_a_cdn_and_undo(tmp_path: Path) -> None:
    async with lab_ctx(tmp_path) as ctx:
        await edge.abort(ctx, target="cdn-a", status=503)
        assert await http.success_ratio(ctx, target="cdn-a", requests=4) == 0.0
        assert await http.success_ratio(ctx, target="cdn-b", requests=4) == 1.0
        await undo_all(ctx)
        assert await http.success_ratio(ctx, target="cdn-a", requests=4) == 1.0
        with pytest.raises(Exception, match="no edge named 'cdn-z'"):
            await edge.abort(ctx, target="cdn-z")


async def test_delay_shows_in_latency_probe(tmp_path: Path) -> None:
    async with lab_ctx(tmp_path) as ctx:
        await edge.delay(ctx, delay_ms=200, target="edge-a-1")
        slow = await http.latency_percentile(ctx, target="edge-a-1", requests=3, percentile=50)
        assert 200 <= slow < 5000


async def test_bad_push_to_one_cdn_panics_only_there_and_rollback_heals(tmp_path: Path) -> None:
    async with lab_ctx(tmp_path, bot={"failure_policy": "panic"}) as ctx:
        good = await control.push(
            ctx, kind="bot-features", mutation="duplicate-rows", target="cdn-a"
        )
        assert good["version"]["mutation"] == "duplicate-rows"
        assert await http.success_ratio(ctx, target="cdn-a", requests=4) == 0.0
        assert await http.success_ratio(ctx, target="cdn-b", requests=4) == 1.0
        await control.rollback(ctx, kind="bot-features")
        ok = 0.0
        for _ in range(50):  # the rollback propagates by long-poll; wait for it by observing
            ok = await http.success_ratio(ctx, target="cdn-a", requests=2)
            if ok == 1.0:
                break
        assert ok == 1.0


async def test_flap_registers_its_stop(tmp_path: Path) -> None:
    async with lab_ctx(tmp_path) as ctx:
        started = await control.flap(ctx, name="ff", period_s=0.5, bad_probability=0.0)
        assert started["name"] == "ff"
        assert [d for d, _ in ctx.undo] == ["stop generator ff"]
        control_url = ctx.lab.one("control").addresses["http"]
        async with ctx.http.get(f"{control_url}/v1/generators/ff") as r:
            assert (await r.json())["running"] is True
        await undo_all(ctx)
        async with ctx.http.get(f"{control_url}/v1/generators/ff") as r:
            assert (await r.json())["running"] is False
        with pytest.raises(ActivityFailed, match="404"):
            await control.stop_flap(ctx, name="never-started")


async def test_origin_dependency_and_metric_probe(tmp_path: Path) -> None:
    async with lab_ctx(tmp_path) as ctx:
        await origin.dependency(ctx, state="down")
        assert await http.success_ratio(ctx, target="origin", path="/api/x", requests=3) == 0.0
        failures = await http.metric(
            ctx, process="origin", name="edgelab_origin_dependency_failures_total"
        )
        assert failures == 3
        await undo_all(ctx)
        assert await http.success_ratio(ctx, target="origin", path="/api/x", requests=3) == 1.0


def test_every_catalogue_entry_takes_keyword_arguments_only() -> None:
    import inspect

    for name, func in CATALOGUE.items():
        params = list(inspect.signature(func).parameters.values())
        assert params[0].name == "ctx", name
        assert all(p.kind is p.KEYWORD_ONLY for p in params[1:]), name


async def test_purge_everything_turns_hits_into_misses(tmp_path: Path) -> None:
    from edgelab.chaos.catalogue import cache

    async with lab_ctx(tmp_path) as ctx:
        pop = ctx.lab.one("edge", "edge-a-1").addresses["proxy"]
        for _ in range(2):
            async with ctx.http.get(f"{pop}/static/app.js") as r:
                await r.read()
                last = r.headers.get("X-Cache")
        assert last == "HIT"
        result = await cache.purge(ctx, target="edge-a-1", everything=True)
        assert result["purged"]["edge-a-1"] >= 1
        async with ctx.http.get(f"{pop}/static/app.js") as r:
            assert r.headers.get("X-Cache") == "MISS"


async def test_toxics_and_disabled_links_through_toxiproxy_python(tmp_path: Path) -> None:
    from edgelab.chaos.catalogue import toxiproxy

    async with lab_ctx(tmp_path) as ctx:
        await toxiproxy.add_toxic(
            ctx, proxy="edge-a-1-origin", type="latency", attributes={"latency": 300}
        )
        slow = await http.latency_percentile(
            ctx, target="edge-a-1", path="/api/x", requests=2, percentile=50
        )
        assert 300 <= slow < 10_000
        fast = await http.latency_percentile(
            ctx, target="edge-b-1", path="/api/x", requests=2, percentile=50
        )
        assert fast < 300
        await toxiproxy.disable(ctx, proxy="edge-b-1-origin")
        assert await http.success_ratio(ctx, target="edge-b-1", path="/api/x", requests=2) == 0.0
        await undo_all(ctx)
        assert await http.success_ratio(ctx, target="edge-b-1", path="/api/x", requests=2) == 1.0
        quick = await http.latency_percentile(
            ctx, target="edge-a-1", path="/api/x", requests=2, percentile=50
        )
        assert quick < 300
        with pytest.raises(ActivityFailed, match="toxiproxy"):
            await toxiproxy.add_toxic(ctx, proxy="nope", type="latency", attributes={"latency": 1})


async def test_container_actions_fail_in_one_line_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgelab.chaos.catalogue import container

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    async with lab_ctx(tmp_path) as ctx:
        with pytest.raises(ActivityFailed, match="no Docker engine reachable"):
            await container.act(ctx, service="edge-a", action="pause")
        with pytest.raises(ActivityFailed, match="action must be one of"):
            await container.act(ctx, service="edge-a", action="explode")
        assert ctx.undo == []


async def test_steering_probe_follows_a_failing_pop(tmp_path: Path) -> None:
    from edgelab.chaos.context import ProcessView
    from edgelab.steering.config import SteeringConfig
    from edgelab.steering.server import SteeringServer
    from edgelab.testing.servers import running

    async with lab_ctx(tmp_path) as ctx:
        pop = ctx.lab.one("edge", "edge-a-1").addresses["proxy"]
        origin_url = ctx.lab.one("origin").addresses["http"]
        config = SteeringConfig.model_validate(
            {
                "ttl_s": 1,
                "health": {"interval_s": 0.2, "failures_to_down": 2, "successes_to_up": 1},
                "services": {
                    "failover": [
                        {"name": "cdn-a", "urls": [pop]},
                        {"name": "origin", "urls": [origin_url]},
                    ]
                },
            }
        )
        async with running(SteeringServer(config)) as steering:
            ctx.lab.processes["steering"] = ProcessView(
                "steering", "steering", dict(steering.addresses)
            )
            seen = [await http.steering_target(ctx, service="failover")]
            await edge.abort(ctx, target="edge-a-1", status=500)
            for _ in range(200):  # health checks run every 0.2 s; watch until they mark it down
                seen.append(await http.steering_target(ctx, service="failover"))
                if seen[-1] == "origin":
                    break
                await asyncio.sleep(0.05)
    assert seen[0] == "cdn-a" and seen[-1] == "origin"
