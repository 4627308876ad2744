"""Hostile clients against a real edge and origin: slowloris, idle floods, oversized chunked
bodies, request smuggling shapes, and targets that try to point the edge elsewhere."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from edgelab.edge.server import EdgeServer
from tests.conftest import EdgeFactory
from tests.metrics import metric_value

AiohttpServer = Callable[..., Awaitable[TestServer]]


@dataclass
class RecordingOrigin:
    """An origin that records each request it read completely (head and whole body)."""

    completed: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None
    """When set, the handler waits for it before answering (a slow origin)."""

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.started.set()
            body = await request.read()
            self.completed.append((request.method, request.raw_path, dict(request.headers), body))
            if self.hold is not None:
                await self.hold.wait()
            return web.Response(text="ok")

        app = web.Application(client_max_size=1 << 24)
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


@pytest.fixture
async def recording(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[RecordingOrigin, str]]:
    origin = RecordingOrigin()
    server = await aiohttp_server(origin.app())
    yield origin, str(server.make_url("")).rstrip("/")
    if origin.hold is not None:
        origin.hold.set()


def hostport(edge: EdgeServer) -> tuple[str, int]:
    host, port = edge.addresses["proxy"].removeprefix("http://").split(":")
    return host, int(port)


async def exchange(edge: EdgeServer, data: bytes, timeout_s: float = 20) -> bytes:
    """Send raw bytes, return everything the edge answers until it closes the connection."""
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:80]
    return int(answer.split(b" ", 2)[1])


async def served(edge: EdgeServer, n: int) -> list[int]:
    """`n` ordinary requests, each on a fresh connection; their statuses."""
    statuses = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for i in range(n):
            async with http.get(f"{edge.addresses['proxy']}/static/{i}.css") as r:
                await r.read()
                statuses.append(r.status)
    return statuses


async def metrics_of(edge: EdgeServer) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{edge.addresses['admin']}/metrics") as r:
        return await r.text()


# -- slow and idle clients ---------------------------------------------------------------------


async def test_slowloris_is_cut_off_while_others_are_served(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str]
) -> None:
    _, origin_url = recording
    edge = await make_edge(origin_url, client={"header_timeout_s": 0.5})
    loop = asyncio.get_running_loop()

    async def slowloris() -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection(*hostport(edge))
        started = loop.time()
        writer.write(b"GET /static/a.css HTTP/1.1\r\nHost: x\r\n")
        answer = asyncio.create_task(reader.read())
        try:
            while not answer.done():  # one more header line every 0.1 s, never the end
                writer.write(b"X-Drip: 1\r\n")
                await asyncio.wait([answer], timeout=0.1)
            return await answer, loop.time() - started
        except ConnectionError:
            return await answer, loop.time() - started
        finally:
            writer.close()

    slow = [asyncio.create_task(slowloris()) for _ in range(10)]
    assert await served(edge, 10) == [200] * 10
    results = await asyncio.wait_for(asyncio.gather(*slow), 30)
    for answer, elapsed_s in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:60]
        assert elapsed_s >= 0.45
    metrics = await metrics_of(edge)
    assert (
        metric_value(metrics, "edgelab_edge_client_connections_closed_total", reason="head_timeout")
        == 10
    )


@pytest.mark.parametrize("idle_s", [0.2, 0.8])
async def test_a_kept_alive_connection_owes_its_next_head_from_that_heads_first_byte(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str], idle_s: float
) -> None:
    """Idle time between requests does not count against the next head (keepalive_s governs
    it), and a head started later gets the whole header_timeout_s from its first byte: idle
    0.2 s starts the next head before the first one's deadline, 0.8 s after it."""
    _, origin_url = recording
    edge = await make_edge(origin_url, client={"header_timeout_s": 0.5, "keepalive_s": 30})
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"GET /static/a.css HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        assert head.startswith(b"HTTP/1.1 200"), head[:60]
        length = int(next(v for k, v in parse_head(head) if k.lower() == "content-length"))
        await asyncio.wait_for(reader.readexactly(length), 20)
        await asyncio.sleep(idle_s)  # idle between requests: the connection stays open
        started = loop.time()
        writer.write(b"GET /static/b.css HTTP/1.1\r\nHost: x\r\n")
        answer = asyncio.create_task(reader.read())
        while not answer.done():  # trickle header lines, never the end of the head
            writer.write(b"X-Drip: 1\r\n")
            await asyncio.wait([answer], timeout=0.1)
        elapsed_s = loop.time() - started
    finally:
        writer.close()
    assert (await answer).startswith(b"HTTP/1.1 408"), (await answer)[:60]
    assert 0.45 <= elapsed_s < 10


def parse_head(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]


async def test_idle_flood_is_evicted_and_clients_keep_being_served(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str]
) -> None:
    _, origin_url = recording
    edge = await make_edge(origin_url, client={"max_connections": 8})
    flood = [await asyncio.open_connection(*hostport(edge)) for _ in range(30)]
    try:
        assert await served(edge, 10) == [200] * 10
        # The flood was pushed out, oldest first: the earliest sockets see the edge close them.
        for reader, _ in flood[:5]:
            assert await asyncio.wait_for(reader.read(), 20) == b""
        metrics = await metrics_of(edge)
        assert metric_value(metrics, "edgelab_edge_client_connections") <= 8
        evicted = metric_value(
            metrics, "edgelab_edge_client_connections_closed_total", reason="evicted"
        )
        assert evicted >= 30 - 8
    finally:
        for _, writer in flood:
            writer.close()


async def test_over_the_cap_with_every_connection_busy_is_503(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str]
) -> None:
    origin, origin_url = recording
    origin.hold = asyncio.Event()
    edge = await make_edge(origin_url, client={"max_connections": 2})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        busy = [
            asyncio.create_task(http.get(f"{edge.addresses['proxy']}/slow/{i}")) for i in range(2)
        ]
        while len(origin.completed) < 2:  # both are in the origin's hands
            await asyncio.wait(busy, timeout=0.05)
        answer = await exchange(edge, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(answer) == 503
        origin.hold.set()
        for task in busy:
            resp = await task
            assert resp.status == 200
            resp.release()
    assert await served(edge, 2) == [200, 200]


# -- bodies and smuggling ------------------------------------------------------------------------


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_chunked_body_over_the_limit_is_413_and_never_reaches_the_origin(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str], client: str
) -> None:
    origin, origin_url = recording
    edge = await make_edge(
        origin_url, client={"max_request_body_bytes": 1000}, upstream={"client": client}
    )
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = await exchange(edge, head + chunked(*[b"a" * 400] * 5))
    assert status_of(answer) == 413
    assert b"Connection: close" in answer
    ok = await exchange(
        edge, head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + chunked(b"b" * 900)
    )
    assert status_of(ok) == 200
    assert [body for _, _, _, body in origin.completed] == [b"b" * 900]


async def test_a_bad_chunk_after_the_head_is_400_and_the_origin_gets_no_request(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str], caplog: pytest.LogCaptureFixture
) -> None:
    origin, origin_url = recording
    # No WAF body inspection here: the WAF would buffer the body before the origin sees a byte.
    edge = await make_edge(origin_url, waf={"inspect_body_bytes": 0})
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        await writer.drain()
        await asyncio.wait_for(origin.started.wait(), 20)  # the edge is streaming to the origin
        writer.write(b"zz\r\nwhat framing is this\r\n0\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    assert status_of(answer) == 400
    assert origin.completed == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


SMUGGLING = {
    "content-length with transfer-encoding": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two content-lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "signed content-length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab",
    "transfer-encoding not ending in chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "obfuscated transfer-encoding": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1g\r\nabc\r\n0\r\n\r\n",
    "overflowing chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "NUL in a field": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "CONNECT": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
    "absolute-form target": b"GET http://169.254.169.254/latest HTTP/1.1\r\nHost: x\r\n\r\n",
    "asterisk-form target": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "not HTTP at all": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,
}


@pytest.mark.parametrize("name", list(SMUGGLING))
async def test_smuggling_and_foreign_targets_get_400_and_never_reach_the_origin(
    make_edge: EdgeFactory,
    recording: tuple[RecordingOrigin, str],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    origin, origin_url = recording
    edge = await make_edge(origin_url, pop="ams")
    caplog.set_level(logging.INFO)
    answer = await exchange(edge, SMUGGLING[name])
    assert status_of(answer) == 400
    assert b"ams" in answer  # the edge's own error page, not aiohttp's
    assert not origin.started.is_set() and origin.completed == []
    # a client's mistake is one line, never a traceback
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [r for r in caplog.records if r.name.startswith("edgelab.edge")]


async def test_the_client_host_header_never_changes_where_the_edge_connects(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str]
) -> None:
    origin, origin_url = recording
    edge = await make_edge(origin_url)
    answer = await exchange(
        edge, b"GET //evil.example/x HTTP/1.1\r\nHost: evil.example:22\r\nConnection: close\r\n\r\n"
    )
    assert status_of(answer) == 200
    [(_, path, headers, _)] = origin.completed
    assert path == "//evil.example/x"
    assert headers["Host"] == origin_url.removeprefix("http://")
    assert headers["X-Forwarded-Host"] == "evil.example:22"


async def test_a_real_handler_bug_still_logs_its_traceback(
    edge: EdgeServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_observer(*_: object) -> None:
        raise RuntimeError("observer bug")

    edge.observers.append(broken_observer)
    answer = await exchange(
        edge, b"GET /static/a.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status_of(answer) == 500
    bugs = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert bugs and "observer bug" in str(bugs[0].exc_info[1])  # type: ignore[index]


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_a_stalled_body_is_408_and_the_origin_gets_no_request(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str], client: str
) -> None:
    origin, origin_url = recording
    edge = await make_edge(origin_url, client={"body_timeout_s": 0.3}, upstream={"client": client})
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await exchange(  # declares 100 bytes, sends 10, then nothing
        edge, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    assert status_of(answer) == 408
    # closed right after the 408, not after aiohttp's 10 s of lingering for the missing bytes
    assert 0.25 <= loop.time() - started < 8
    assert origin.completed == []
    assert await served(edge, 2) == [200, 200]


async def test_expect_100_continue_is_answered_before_the_body(
    make_edge: EdgeFactory, recording: tuple[RecordingOrigin, str]
) -> None:
    origin, origin_url = recording
    edge = await make_edge(origin_url)
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        # like curl, send the body only once the edge says so
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    assert status_of(answer) == 200
    [(_, _, headers, body)] = origin.completed
    assert body == b"hello" and "Expect" not in headers
