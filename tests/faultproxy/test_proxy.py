"""Proxies on real sockets: live toxic changes, disable/enable, unreachable upstreams, scale."""

from __future__ import annotations

import asyncio
import time

import pytest

from edgelab.faultproxy.server import FaultProxyServer
from edgelab.faultproxy.stream import Direction
from edgelab.testing.upstreams import EchoServer, closed_port
from tests.faultproxy.conftest import (
    Api,
    Connect,
    read_exactly,
    read_to_eof,
    round_trip,
    wait_until,
)


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


async def test_disable_drops_connections_and_enable_listens_again(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    reader, writer = conn = await connect(proxy["listen"])
    await round_trip(conn)
    status, body = await api.call("POST", "/proxies/p", {"enabled": False})
    assert (status, body["enabled"], body["toxics"]) == (200, False, [])
    try:
        assert await read_to_eof(reader) == b""
    except ConnectionResetError:
        pass  # dropped either way
    with pytest.raises(OSError):
        await connect(proxy["listen"])
    status, body = await api.call("POST", "/proxies/p", {"enabled": True})
    assert (status, body["listen"]) == (200, proxy["listen"])
    await round_trip(await connect(proxy["listen"]))


async def test_unreachable_upstream_closes_the_client_only(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    dead = await api.proxy("dead", f"127.0.0.1:{closed_port()}")
    alive = await api.proxy("alive", echo.address)
    reader, writer = await connect(dead["listen"])
    try:
        assert await read_to_eof(reader) == b""
    except ConnectionResetError:
        pass
    await round_trip(await connect(alive["listen"]))
    assert (await api.call("GET", "/proxies/dead"))[1]["enabled"] is True


async def test_two_hundred_concurrent_connections(
    api: Api, server: FaultProxyServer, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    conns = await asyncio.gather(*(connect(proxy["listen"]) for _ in range(200)))

    async def talk(i: int) -> bytes:
        reader, writer = conns[i]
        message = f"connection {i:03d}".encode()
        writer.write(message)
        return await read_exactly(reader, len(message), within_s=30)

    replies = await asyncio.gather(*(talk(i) for i in range(200)))
    assert replies == [f"connection {i:03d}".encode() for i in range(200)]
    p = server.collection.get("p")
    assert len(p.connections) == 200 and p.stats.connections == 200
    for _, writer in conns:
        writer.close()
    await wait_until(lambda: not p.connections)


async def test_server_stop_closes_every_proxy(echo: EchoServer, connect: Connect) -> None:
    server = FaultProxyServer(port=0)
    await server.start()
    try:
        proxy = await server.collection.create(
            {"name": "p", "listen": "127.0.0.1:0", "upstream": echo.address}
        )
        reader, _ = conn = await connect(proxy.listen)
        await round_trip(conn)
    finally:
        await server.stop()
    assert await read_to_eof(reader) == b""
    with pytest.raises(OSError):
        await connect(proxy.listen)
