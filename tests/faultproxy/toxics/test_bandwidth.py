"""bandwidth on real sockets: the rate stays near `rate` KB/s (generous tolerance)."""

from __future__ import annotations

import asyncio
import time

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, read_exactly


async def test_bandwidth_limits_the_rate(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    rate_kb = 200  # 200 000 bytes/s
    await api.toxic("p", type="bandwidth", attributes={"rate": rate_kb})
    reader, writer = await connect(proxy["listen"])
    payload = bytes(range(256)) * 400  # 102 400 bytes: about half a second
    started = time.monotonic()
    writer.write(payload)
    got = await read_exactly(reader, len(payload), within_s=30)
    elapsed = time.monotonic() - started
    assert got == payload
    rate = len(payload) / elapsed
    assert rate <= rate_kb * 1000 * 1.25, f"{rate:.0f} B/s is faster than the limit"
    assert rate >= rate_kb * 1000 * 0.2, f"{rate:.0f} B/s is far below the limit"


async def test_zero_rate_means_unlimited(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="bandwidth", attributes={"rate": 0})
    reader, writer = await connect(proxy["listen"])
    writer.write(b"z" * 1_000_000)
    assert await read_exactly(reader, 1_000_000, within_s=30) == b"z" * 1_000_000
    writer.close()
    await asyncio.sleep(0)
