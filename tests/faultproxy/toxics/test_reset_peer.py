"""reset_peer on real sockets: the client sees "connection reset by peer"."""

from __future__ import annotations

import asyncio

import pytest

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, round_trip


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
async def test_reset_on_first_data(
    api: Api, echo: EchoServer, connect: Connect, stream: str
) -> None:
    proxy = await api.proxy("p", echo.address)
    conn = await connect(proxy["listen"])
    await round_trip(conn)
    await api.toxic("p", type="reset_peer", stream=stream, attributes={"timeout": 0})
    reader, writer = conn
    writer.write(b"this triggers the reset")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 10)


async def test_zero_toxicity_never_resets(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="reset_peer", toxicity=0.0)
    for _ in range(5):
        assert await round_trip(await connect(proxy["listen"])) >= 0
