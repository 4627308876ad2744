"""toxicity: a toxic applies to about that fraction of connections, rolled with the seeded rng."""

from __future__ import annotations

import asyncio

import pytest

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect


async def affected(api: Api, connect: Connect, listen: str, n: int) -> int:
    """How many of `n` connections a limit_data(0) toxic cut (no echo, just a close)."""

    async def one() -> bool:
        reader, writer = await connect(listen)
        writer.write(b"ping")
        data = await asyncio.wait_for(reader.read(4), 10)
        return data == b""

    return sum(await asyncio.gather(*(one() for _ in range(n))))


@pytest.mark.parametrize(("toxicity", "low", "high"), [(0.0, 0, 0), (1.0, 60, 60), (0.5, 18, 42)])
async def test_fraction_of_connections(
    api: Api, echo: EchoServer, connect: Connect, toxicity: float, low: int, high: int
) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="limit_data", toxicity=toxicity, attributes={"bytes": 0})
    count = await affected(api, connect, proxy["listen"], 60)
    assert low <= count <= high
