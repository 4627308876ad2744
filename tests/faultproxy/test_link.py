"""Links on real sockets: toxics added, changed and removed under an open connection."""

from __future__ import annotations

import asyncio
import time

from edgelab.faultproxy.server import FaultProxyServer
from edgelab.faultproxy.stream import Direction
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, read_exactly, read_to_eof, wait_until


async def test_toxic_changes_on_an_open_connection_lose_no_bytes(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    reader, writer = await connect(proxy["listen"])
    payload = bytes(i % 251 for i in range(400_000))
    block = 4000

    async def send() -> None:
        for i in range(0, len(payload), block):
            writer.write(payload[i : i + block])
            await writer.drain()
            await asyncio.sleep(0)  # let the API calls interleave with the stream

    async def churn() -> None:
        for stream in ("upstream", "downstream"):
            await api.toxic(
                "p", type="latency", stream=stream, name=f"lat_{stream}", attributes={"latency": 5}
            )
            await api.toxic(
                "p",
                type="slicer",
                stream=stream,
                name=f"sl_{stream}",
                attributes={"average_size": 700},
            )
            await api.toxic(
                "p", type="bandwidth", stream=stream, name=f"bw_{stream}", attributes={"rate": 5000}
            )
        for stream in ("upstream", "downstream"):
            await api.call(
                "PATCH", f"/proxies/p/toxics/lat_{stream}", {"attributes": {"latency": 1}}
            )
            await api.call(
                "PATCH", f"/proxies/p/toxics/sl_{stream}", {"attributes": {"average_size": 3000}}
            )
        for name in (
            "sl_upstream",
            "lat_downstream",
            "bw_upstream",
            "sl_downstream",
            "lat_upstream",
            "bw_downstream",
        ):
            assert (await api.call("DELETE", f"/proxies/p/toxics/{name}"))[0] == 204

    sender = asyncio.create_task(send())
    await churn()
    got = await read_exactly(reader, len(payload), within_s=60)
    await sender
    assert got == payload


async def test_removing_latency_releases_the_held_chunk(
    api: Api, server: FaultProxyServer, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="latency", attributes={"latency": 60_000})
    reader, writer = await connect(proxy["listen"])
    writer.write(b"held")
    p = server.collection.get("p")
    await wait_until(lambda: p.totals()[1][Direction.downstream] == 4)  # read back from echo
    started = time.monotonic()
    await api.call("DELETE", "/proxies/p/toxics/latency_downstream")
    assert await read_exactly(reader, 4) == b"held"
    assert time.monotonic() - started < 10


async def test_added_timeout_holds_an_open_connection_and_removal_closes_it(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    reader, writer = await connect(proxy["listen"])
    writer.write(b"before")
    assert await read_exactly(reader, 6) == b"before"
    await api.toxic("p", type="timeout", stream="upstream")
    writer.write(b"dropped")
    await api.call("DELETE", "/proxies/p/toxics/timeout_upstream")
    assert await read_to_eof(reader) == b""
    assert echo.received == 6
