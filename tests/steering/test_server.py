"""Steering against a real edge: a POP answering 500 is marked down, then back up."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from edgelab.origin.server import OriginServer
from edgelab.steering.config import SteeringConfig
from edgelab.steering.server import SteeringServer
from edgelab.testing.servers import running, running_process
from tests.conftest import EdgeFactory
from tests.metrics import metric_value
from tests.switch import Switch

AiohttpServer = Callable[..., Awaitable[TestServer]]


def steering_config(services: dict[str, list[dict[str, object]]]) -> SteeringConfig:
    return SteeringConfig.model_validate(
        {
            "ttl_s": 1.0,
            "health": {"interval_s": 0.1, "failures_to_down": 2, "successes_to_up": 2},
            "services": services,
        }
    )


async def resolve(
    http: aiohttp.ClientSession, steer: SteeringServer, service: str
) -> dict[str, object]:
    return await resolve_url(http, steer.addresses["http"], service)


async def resolve_url(http: aiohttp.ClientSession, base: str, service: str) -> dict[str, object]:
    async with http.get(f"{base}/resolve", params={"service": service}) as r:
        assert r.status == 200
        data: dict[str, object] = await r.json()
        return data


async def test_500_pop_goes_down_and_back_up(
    aiohttp_server: AiohttpServer,
    make_edge: EdgeFactory,
    origin: OriginServer,
    http: aiohttp.ClientSession,
) -> None:
    switch = Switch()
    backend = await aiohttp_server(switch.app())
    pop = await make_edge(str(backend.make_url("")), pop="a1")
    pop_url = pop.addresses["proxy"]
    direct = origin.addresses["http"]
    config = steering_config(
        {"www": [{"name": "cdn-a", "urls": [pop_url]}, {"name": "origin", "urls": [direct]}]}
    )
    async with running(SteeringServer(config)) as steer:
        assert (await resolve(http, steer, "www"))["target"] == "cdn-a"
        # The checks go through the POP like users' requests, with a browser-like agent.
        await asyncio.wait_for(switch.seen.wait(), 20)
        assert "Mozilla/5.0" in switch.user_agents[0]

        switch.failing = True  # the POP's process is up, but it answers 500
        down = await steer.wait_for(pop_url, "down", timeout_s=20)
        assert down.from_ == "up" and "status 500" in down.reason
        answer = await resolve(http, steer, "www")
        assert answer == {
            "service": "www",
            "target": "origin",
            "urls": [direct],
            "ttl_s": 1.0,
            "healthy": True,
        }

        switch.failing = False
        up = await steer.wait_for(pop_url, "up", timeout_s=20)
        assert up.at > down.at
        assert (await resolve(http, steer, "www"))["target"] == "cdn-a"

        async with http.get(f"{steer.addresses['http']}/metrics") as r:
            text = await r.text()
        for to in ("down", "up"):
            assert metric_value(text, "edgelab_steering_transitions_total", url=pop_url, to=to) == 1
        assert metric_value(text, "edgelab_steering_target_up", url=pop_url) == 1
        assert metric_value(text, "edgelab_steering_checks_total", url=pop_url, result="fail") >= 2
        async with http.get(f"{steer.addresses['http']}/status") as r:
            status = await r.json()
        assert [t["to"] for t in status["transitions"]] == ["down", "up"]


async def test_unreachable_target_and_unknown_service(http: aiohttp.ClientSession) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: refused
        config = steering_config({"www": [{"name": "cdn-a", "urls": [dead]}]})
        async with running(SteeringServer(config)) as steer:
            down = await steer.wait_for(dead, "down", timeout_s=20)
            assert "no answer" in down.reason
            # Every target down: still an answer, the primary, flagged unhealthy.
            answer = await resolve(http, steer, "www")
            assert answer["target"] == "cdn-a" and answer["healthy"] is False
            async with http.get(f"{steer.addresses['http']}/resolve?service=nope") as r:
                assert r.status == 404 and "unknown service 'nope'" in (await r.json())["error"]
            with pytest.raises(KeyError):
                await steer.wait_for("http://not-checked", "down", timeout_s=1)


async def test_steer_command_serves_resolve(
    origin: OriginServer, http: aiohttp.ClientSession
) -> None:
    direct = origin.addresses["http"]
    async with running_process(
        "steer", "--target", f"origin={direct}", "--ttl", "7", "--interval", "0.2"
    ) as proc:
        answer = await resolve_url(http, proc.addresses["http"], "www")
        assert answer == {
            "service": "www",
            "target": "origin",
            "urls": [direct],
            "ttl_s": 7.0,
            "healthy": True,
        }
