"""latency on real sockets: a lower bound on the delay, with a generous upper bound."""

from __future__ import annotations

import random

from edgelab.faultproxy.toxics.latency import LatencyToxic
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, at_least, round_trip


async def test_latency_delays_each_direction(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    conn = await connect(proxy["listen"])
    await round_trip(conn)  # connected through before the toxics exist
    await api.toxic("p", type="latency", stream="downstream", attributes={"latency": 150})
    assert at_least(0.15) <= await round_trip(conn) < 3.0
    await api.toxic("p", type="latency", stream="upstream", attributes={"latency": 100})
    assert at_least(0.25) <= await round_trip(conn) < 3.0


async def test_jitter_stays_within_its_range(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="latency", attributes={"latency": 100, "jitter": 50})
    conn = await connect(proxy["listen"])
    for _ in range(5):
        assert at_least(0.05) <= await round_trip(conn) < 3.0


def test_jitter_draws_are_uniform_in_range() -> None:
    toxic = LatencyToxic(latency=100, jitter=20)
    rng = random.Random(3)
    delays = [toxic.delay_s(rng) for _ in range(2000)]
    assert min(delays) >= 0.080 and max(delays) < 0.120
    assert min(delays) < 0.085 and max(delays) > 0.115  # both ends are reached
    assert LatencyToxic(latency=50).delay_s(rng) == 0.05
