"""packet_loss: about `loss_rate` of the chunks never arrive; 0 and 1 are exact."""

from __future__ import annotations

import asyncio
import random

import pytest

from edgelab.faultproxy.stream import Chunk, ChunkQueue
from edgelab.faultproxy.toxics.base import ToxicStub
from edgelab.faultproxy.toxics.packet_loss import PacketLossToxic
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, read_exactly


async def passed(toxic: PacketLossToxic, n: int) -> int:
    """How many of `n` chunks the toxic lets through (run on queues, no sockets)."""
    inp, out = ChunkQueue(n + 1), ChunkQueue(n + 1)
    for i in range(n):
        inp.put_nowait(Chunk(bytes([i % 256]), 0.0))
    inp.put_nowait(None)
    await toxic.pipe(ToxicStub(inp, out, random.Random(5)))
    return out.qsize() - 1  # minus the end of stream


@pytest.mark.parametrize(
    ("rate", "correlation", "low", "high"),
    [(0.0, 0.0, 1000, 1000), (1.0, 0.0, 0, 0), (0.3, 0.0, 620, 780), (0.3, 0.8, 500, 900)],
)
async def test_drop_fraction(rate: float, correlation: float, low: int, high: int) -> None:
    assert low <= await passed(PacketLossToxic(rate, correlation), 1000) <= high


async def test_through_the_api(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    toxic = await api.toxic("p", type="packet_loss", attributes={"loss_rate": 1})
    assert toxic["attributes"] == {"loss_rate": 1.0, "correlation": 0.0}
    reader, writer = await connect(proxy["listen"])
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    await api.call(
        "PATCH", "/proxies/p/toxics/packet_loss_downstream", {"attributes": {"loss_rate": 0}}
    )
    writer.write(b"kept")
    assert await read_exactly(reader, 4) == b"kept"
