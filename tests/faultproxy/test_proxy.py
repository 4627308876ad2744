"""Proxies on real sockets: disable/enable, unreachable upstreams, 200 connections, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from edgelab.faultproxy.server import FaultProxyServer
from edgelab.testing.upstreams import EchoServer, closed_port
from tests.faultproxy.conftest import (
    Api,
    Connect,
    read_exactly,
    read_to_eof,
    round_trip,
    wait_until,
)


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
