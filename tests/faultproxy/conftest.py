"""Fixtures: a running fault-proxy server, an echo upstream, and helpers to talk through it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from edgelab.faultproxy.server import FaultProxyServer
from edgelab.testing.servers import running
from edgelab.testing.upstreams import EchoServer


@dataclass
class Api:
    """Raw HTTP against the server's API."""

    http: aiohttp.ClientSession
    base: str

    async def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.base + path, **kwargs) as r:
            text = await r.text()
            try:
                import json

                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text

    async def proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", **extra: Any
    ) -> dict[str, Any]:
        status, body = await self.call(
            "POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, **extra}
        )
        assert status == 201, body
        return dict(body)

    async def toxic(self, proxy: str, **fields: Any) -> dict[str, Any]:
        status, body = await self.call("POST", f"/proxies/{proxy}/toxics", fields)
        assert status == 200, body
        return dict(body)


@pytest.fixture
async def server(stack: AsyncExitStack) -> FaultProxyServer:
    return await stack.enter_async_context(running(FaultProxyServer(port=0, seed=7)))


@pytest.fixture
async def api(server: FaultProxyServer, http: aiohttp.ClientSession) -> Api:
    return Api(http, server.addresses["api"])


@pytest.fixture
async def echo(stack: AsyncExitStack) -> EchoServer:
    return await stack.enter_async_context(running(EchoServer()))


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[str], Awaitable[Conn]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open TCP connections to `host:port`; all closed at teardown."""
    writers: list[asyncio.StreamWriter] = []

    async def open_(address: str) -> Conn:
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
        writers.append(writer)
        return reader, writer

    yield open_
    for w in writers:
        w.transport.abort()


async def read_exactly(reader: asyncio.StreamReader, n: int, within_s: float = 10) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), within_s)


async def read_to_eof(reader: asyncio.StreamReader, within_s: float = 10) -> bytes:
    return await asyncio.wait_for(reader.read(), within_s)


async def round_trip(conn: Conn, data: bytes = b"ping") -> float:
    """Seconds to send `data` and read it back."""
    reader, writer = conn
    started = time.monotonic()
    writer.write(data)
    await writer.drain()
    assert await read_exactly(reader, len(data)) == data
    return time.monotonic() - started


def at_least(seconds: float) -> float:
    """A lower bound for a delay of `seconds`: timers may fire a few ms early (uvloop rounds
    to whole milliseconds and timestamps a read at the start of its loop iteration)."""
    return seconds * 0.97 - 0.005


async def wait_until(condition: Callable[[], bool], within_s: float = 10) -> None:
    """Poll `condition` (state we cannot await directly) until true; fail after `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


SINGLE_LOOP = {"test_cli.py", "test_stream.py", "test_chain.py", "test_addresses.py"}
"""No sockets of ours in these (or a subprocess picks its loop): one loop is enough."""


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every fault-proxy test on both loops: uvloop is what `edgelab toxiproxy` runs."""
    import uvloop

    if item.path.name in SINGLE_LOOP:
        return {"asyncio": asyncio.new_event_loop}
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
