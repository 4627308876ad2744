"""timeout on real sockets: drops data; closes after `timeout` ms, or holds when 0."""

from __future__ import annotations

import asyncio
import time

import pytest

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, at_least, read_to_eof


async def test_timeout_closes_after_its_time(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="timeout", attributes={"timeout": 200})
    started = time.monotonic()
    reader, writer = await connect(proxy["listen"])
    writer.write(b"swallowed")
    assert await read_to_eof(reader) == b""  # nothing came back, then the close
    assert at_least(0.2) <= time.monotonic() - started < 5.0


async def test_zero_timeout_holds_until_removed(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="timeout", stream="upstream", attributes={"timeout": 0})
    reader, writer = await connect(proxy["listen"])
    writer.write(b"into the void")
    # Held: neither data nor a close arrives (checked over a short window), and upstream saw nothing.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    assert echo.received == 0
    # Removing a timeout toxic closes the connections it held (toxiproxy's Cleanup).
    assert (await api.call("DELETE", "/proxies/p/toxics/timeout_upstream"))[0] == 204
    assert await read_to_eof(reader) == b""
    assert echo.received == 0
