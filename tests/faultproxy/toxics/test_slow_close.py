"""slow_close on real sockets: data passes, the close comes `delay` ms late."""

from __future__ import annotations

import time

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, at_least, read_to_eof, round_trip


async def test_close_is_delayed(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="slow_close", attributes={"delay": 300})
    reader, writer = conn = await connect(proxy["listen"])
    await round_trip(conn, b"data passes")
    started = time.monotonic()
    writer.write_eof()  # the upstream link closes the echo server, which closes its side
    assert await read_to_eof(reader) == b""
    assert at_least(0.3) <= time.monotonic() - started < 5.0
