"""The proxy listener on real sockets (edge/protocol.py, edge/listener.py): pipelining, bodyless
responses, header limits, keep-alive and close, drain on stop, back-pressure on uploads.

The hostile-client guarantees (slowloris, floods, smuggling) are in test_hostile.py."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from edgelab.config.edge import ClientLimits
from edgelab.edge.exchange import ClientRequest, EdgeResponse
from edgelab.edge.listener import ProxyListener
from edgelab.edge.protocol import ClientConnection
from edgelab.edge.server import EdgeServer
from tests.conftest import EdgeFactory
from tests.integration.test_hostile import hostport
from tests.waiting import until

AiohttpServer = Callable[..., Awaitable[TestServer]]


STREAM_PARTS = 8


def stream_part(i: int) -> bytes:
    return b"%d" % i * 100_000


class Origin:
    """An origin with the responses these tests need, recording what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.started = asyncio.Event()
        self.uploaded: list[tuple[int, str]] = []

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.seen.append((request.method, request.path))
            path = request.path
            if path == "/204":
                return web.Response(status=204)
            if path == "/304":
                return web.Response(status=304, headers={"ETag": '"v1"'})
            if path == "/slow":
                self.started.set()
                await self.hold.wait()
                return web.Response(text="finished")
            if path == "/upload":
                self.started.set()
                await self.hold.wait()
                digest = hashlib.sha256()
                size = 0
                async for data in request.content.iter_any():
                    digest.update(data)
                    size += len(data)
                self.uploaded.append((size, digest.hexdigest()))
                return web.Response(text=str(size))
            if path == "/stream":  # no Content-Length, and more than the edge reads ahead
                resp = web.StreamResponse()
                await resp.prepare(request)
                for i in range(STREAM_PARTS):
                    await resp.write(stream_part(i))
                await resp.write_eof()
                return resp
            return web.Response(
                text=f"page {path}", headers={"Cache-Control": "no-store", "X-Path": path}
            )

        app = web.Application(client_max_size=1 << 27)
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


@pytest.fixture
async def origin_app(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[Origin, str]]:
    origin = Origin()
    server = await aiohttp_server(origin.app())
    yield origin, str(server.make_url("")).rstrip("/")
    origin.hold.set()


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


async def read_response(reader: asyncio.StreamReader, *, head_request: bool = False) -> Response:
    """One response off a kept-alive connection, framed as RFC 9112 says (length, chunked, none)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body = b""
    if head_request or status in (204, 304):
        pass
    elif "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 20)
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await asyncio.wait_for(reader.readline(), 20)).strip(), 16)
            data = await asyncio.wait_for(reader.readexactly(size + 2), 20)
            if size == 0:
                break
            body += data[:-2]
    else:
        body = await asyncio.wait_for(reader.read(), 20)  # delimited by the close
    return Response(status, headers, body)


async def at_eof(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 20) == b""


# -- pipelining and framing ---------------------------------------------------------------------


async def test_pipelined_requests_are_answered_in_order_with_bodyless_ones_framed_right(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    """HEAD, 204 and 304 carry no body: if one did, every later response on the connection
    would be read out of step, so this pipeline checks the framing and the order together."""
    origin, url = origin_app
    edge = await make_edge(url)
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        a = await read_response(reader)
        b = await read_response(reader, head_request=True)
        no_content = await read_response(reader)
        not_modified = await read_response(reader)
        c = await read_response(reader)
        d = await read_response(reader)
    finally:
        writer.close()
    assert (a.status, a.body, a.headers["x-path"]) == (200, b"page /a", "/a")
    assert b.status == 200 and b.headers["x-path"] == "/b"
    assert b.headers["content-length"] == str(len(b"page /b"))  # the GET's length, no body
    assert no_content.status == 204 and "content-length" not in no_content.headers
    assert not_modified.status == 304 and not_modified.headers["etag"] == '"v1"'
    assert (c.status, c.body) == (200, b"page /c")
    assert (d.status, d.body) == (200, b"page /d")
    assert origin.seen == [
        ("GET", "/a"),
        ("HEAD", "/b"),
        ("GET", "/204"),
        ("GET", "/304"),
        ("POST", "/c"),
        ("GET", "/d"),
    ]


async def test_a_long_pipeline_is_answered_whole_and_in_order(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    """More requests in one write than the listener queues (reading pauses and resumes)."""
    _, url = origin_app
    edge = await make_edge(url)
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"".join(b"GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(100)))
        answers = [await read_response(reader) for _ in range(100)]
    finally:
        writer.close()
    assert [a.headers["x-path"] for a in answers] == [f"/p/{i}" for i in range(100)]
    assert {a.status for a in answers} == {200}


async def test_a_framing_error_in_a_pipeline_is_answered_after_the_requests_before_it(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    origin, url = origin_app
    edge = await make_edge(url, pop="fra")
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /second HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"
            b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        first = await read_response(reader)
        refused = await read_response(reader)
        assert await at_eof(reader)
    finally:
        writer.close()
    assert (first.status, first.body) == (200, b"page /first")
    assert refused.status == 400 and b"fra" in refused.body
    assert refused.headers["connection"] == "close"
    assert origin.seen == [("GET", "/first")]  # nothing after the error was parsed


async def test_a_streamed_response_is_chunked_for_http_1_1_and_close_delimited_for_1_0(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    _, url = origin_app
    edge = await make_edge(url)
    expected = b"".join(stream_part(i) for i in range(STREAM_PARTS))
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        streamed = await read_response(reader)
        after = await read_response(reader)
    finally:
        writer.close()
    assert streamed.headers["transfer-encoding"] == "chunked" and streamed.body == expected
    assert after.body == b"page /after"
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        old = await read_response(reader)
    finally:
        writer.close()
    assert "transfer-encoding" not in old.headers and old.headers["connection"] == "close"
    assert old.body == expected


async def test_an_upgrade_request_is_answered_as_http_and_what_follows_is_never_parsed(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    origin, url = origin_app
    edge = await make_edge(url)
    answer = await exchange(
        edge,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        b"GET /hidden HTTP/1.1\r\nHost: x\r\n\r\n",
        then_closed=True,
    )
    assert answer.status == 200 and answer.headers["connection"] == "close"
    assert origin.seen == [("GET", "/ws")]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9-shaped
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ],
)
async def test_heads_llhttp_lets_through_are_refused_by_the_listener(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str], head: bytes, status: int
) -> None:
    origin, url = origin_app
    edge = await make_edge(url, pop="cdg")
    refused = await exchange(edge, head)
    assert refused.status == status and b"cdg" in refused.body
    assert refused.headers["connection"] == "close"
    assert origin.seen == []


# -- keep-alive and close ---------------------------------------------------------------------------


async def test_http_1_0_closes_unless_it_asks_for_keep_alive(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    _, url = origin_app
    edge = await make_edge(url)
    plain = await exchange(edge, b"GET /a HTTP/1.0\r\n\r\n", then_closed=True)
    assert plain.status == 200 and plain.headers["connection"] == "close"
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        for path in (b"/k1", b"/k2"):
            writer.write(b"GET " + path + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            kept = await read_response(reader)
            assert kept.status == 200 and kept.headers["connection"] == "keep-alive"
            assert kept.body == b"page " + path
    finally:
        writer.close()


async def test_connection_close_ends_the_connection_after_its_response(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    origin, url = origin_app
    edge = await make_edge(url)
    last = await exchange(
        edge,
        b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n",
        then_closed=True,
    )
    assert last.body == b"page /last" and last.headers["connection"] == "close"
    assert origin.seen == [("GET", "/last")]


async def test_an_idle_kept_alive_connection_is_closed_after_keepalive_s(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    _, url = origin_app
    edge = await make_edge(url, client={"keepalive_s": 0.3, "header_timeout_s": 30})
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader)).status == 200
        idle_from = loop.time()
        assert await at_eof(reader)  # closed without a word: nothing was asked
        assert 0.25 <= loop.time() - idle_from < 15
    finally:
        writer.close()


# -- header limits ------------------------------------------------------------------------------


async def exchange(edge: EdgeServer, data: bytes, *, then_closed: bool = False) -> Response:
    """Send `data` on a new connection and read one response; `then_closed`: also check that
    the edge closes the connection after it (whatever else `data` held goes unanswered)."""
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(data)
        answer = await read_response(reader)
        if then_closed:
            assert await at_eof(reader)
        return answer
    finally:
        writer.close()


async def test_header_limits(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str], caplog: pytest.LogCaptureFixture
) -> None:
    origin, url = origin_app
    edge = await make_edge(url, pop="lhr", client={"max_header_bytes": 2048})
    long_target = await exchange(edge, b"GET /" + b"a" * 2100 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert long_target.status == 414 and b"lhr" in long_target.body
    big_field = await exchange(
        edge, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 2100 + b"\r\n\r\n"
    )
    assert big_field.status == 431 and b"lhr" in big_field.body
    many = b"".join(b"X-F%d: %s\r\n" % (i, b"c" * 1000) for i in range(10))  # 10 kB > 4 * 2 kB
    too_many = await exchange(edge, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert too_many.status == 431
    assert origin.seen == []
    at_limit = await exchange(
        edge,
        b"GET /fits HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"d" * 1900
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert at_limit.status == 200 and origin.seen == [("GET", "/fits")]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_head_sent_in_pieces_is_still_bounded(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    """A field that never ends is refused once the head passes its bound, whatever the
    pieces (llhttp would buffer it without end)."""
    _, url = origin_app
    edge = await make_edge(url, client={"max_header_bytes": 1024})
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        answer = asyncio.create_task(read_response(reader))
        sent = 0
        while not answer.done() and sent < 1 << 20:
            writer.write(b"e" * 512)
            sent += 512
            await asyncio.wait([answer], timeout=0.01)
        refused = await answer
    finally:
        writer.close()
    assert refused.status == 431
    assert sent < 1 << 20


# -- bodies ---------------------------------------------------------------------------------------


async def test_a_large_upload_is_streamed_with_back_pressure(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    """While the origin does not read, the edge stops reading too: the client's writes back
    up instead of the edge buffering the upload. Then all of it arrives, intact."""
    origin, url = origin_app
    origin.hold.clear()
    edge = await make_edge(url, waf={"inspect_body_bytes": 0})
    size = 48 * 1024 * 1024
    block = bytes(range(256)) * 4096  # 1 MiB
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            writer.write(block)
        await asyncio.wait_for(origin.started.wait(), 20)
        with pytest.raises(TimeoutError):  # all buffered on the way would have drained by now
            await asyncio.wait_for(writer.drain(), 1.0)
        assert writer.transport.get_write_buffer_size() > 0
        origin.hold.set()
        await asyncio.wait_for(writer.drain(), 60)
        answer = await asyncio.wait_for(read_response(reader), 60)
    finally:
        writer.close()
    expected = hashlib.sha256(block * (size // len(block))).hexdigest()
    assert answer.status == 200 and origin.uploaded == [(size, expected)]


async def test_a_body_nobody_read_is_dropped_and_the_next_request_is_served(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    """The WAF blocks on the query before anything reads the body; the body, already here,
    must not be taken for the next request."""
    origin, url = origin_app
    edge = await make_edge(url, waf={"inspect_body_bytes": 0})
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"POST /q?id=1%27%20OR%201=1--%20 HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n"
            b"GET /smuggled HTTP/1.1\r\nX: y\r\n\r\n"
            b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        blocked = await read_response(reader)
        after = await read_response(reader)
    finally:
        writer.close()
    assert blocked.status == 403
    assert (after.status, after.body) == (200, b"page /next")
    assert origin.seen == [("GET", "/next")]


async def test_a_body_still_arriving_when_its_answer_is_done_closes_the_connection(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    origin, url = origin_app
    edge = await make_edge(url, waf={"inspect_body_bytes": 0})
    reader, writer = await asyncio.open_connection(*hostport(edge))
    try:
        writer.write(
            b"POST /q?id=1%27%20OR%201=1--%20 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
            + b"z" * 1000
        )
        blocked = await read_response(reader)
        assert await at_eof(reader)
    finally:
        writer.close()
    assert blocked.status == 403 and blocked.headers["connection"] == "close"
    assert origin.seen == []


# -- stop ---------------------------------------------------------------------------------------


async def test_stop_drains_in_flight_requests_and_closes_idle_connections(
    make_edge: EdgeFactory, origin_app: tuple[Origin, str]
) -> None:
    origin, url = origin_app
    origin.hold.clear()
    edge = await make_edge(url)
    idle_reader, idle_writer = await asyncio.open_connection(*hostport(edge))
    busy_reader, busy_writer = await asyncio.open_connection(*hostport(edge))
    try:
        idle_writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(idle_reader)).status == 200  # now idle, kept alive
        busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(origin.started.wait(), 20)
        stopping = asyncio.create_task(edge.stop())
        assert await at_eof(idle_reader)  # closed at once, while the other is still in flight
        assert not stopping.done()
        origin.hold.set()
        finished = await read_response(busy_reader)
        assert await at_eof(busy_reader)
        await asyncio.wait_for(stopping, 20)
    finally:
        idle_writer.close()
        busy_writer.close()
    assert (finished.status, finished.body) == (200, b"finished")
    assert finished.headers["connection"] == "close"
    with pytest.raises(OSError):
        await asyncio.open_connection(*hostport(edge))


# -- answered in the read callback, or handed to the serving task --------------------------------


async def test_answers_at_once_or_after_waiting_keep_their_order_and_their_task() -> None:
    """A kept-alive connection's request is answered in the read callback when its handler
    never waits; one that waits is finished by the connection's serving task, and the handler
    sees that one task either way."""
    entered, release = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[object] | None] = []

    async def handler(req: ClientRequest, _: ClientConnection) -> EdgeResponse:
        tasks.append(asyncio.current_task())
        if req.path == "/wait":
            entered.set()
            await release.wait()
        elif req.path == "/yield":
            await asyncio.sleep(0)
        return EdgeResponse(200, CIMultiDict({"X-Path": req.path}), req.path.encode())

    listener = ProxyListener(handler, limits=ClientLimits(), pop="pop-t")
    port = await listener.start("127.0.0.1", 0, "test")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in ("/a", "/b", "/yield", "/c", "/yield", "/d"):  # one at a time
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            resp = await read_response(reader)
            assert (resp.status, resp.body, resp.headers["x-path"]) == (200, path.encode(), path)
        pipelined = ("/wait", "/e", "/yield", "/f")
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in pipelined))
        await asyncio.wait_for(entered.wait(), 20)
        release.set()
        assert [(await read_response(reader)).body for _ in pipelined] == [
            p.encode() for p in pipelined
        ]
        assert len(tasks) == 10 and tasks[0] is not None and all(t is tasks[0] for t in tasks)
    finally:
        writer.close()
        await listener.stop(5)


# -- write back-pressure (the connection's own flow control) ----------------------------------

BIG = bytes(range(256)) * (64 * 1024)
"""16 MiB: more than the kernel's buffers on both sides hold, so the edge's transport backs up."""


def big_or_small_listener(answered: list[str]) -> ProxyListener:
    async def handler(req: ClientRequest, _: ClientConnection) -> EdgeResponse:
        answered.append(req.path)
        return EdgeResponse(200, CIMultiDict(), BIG if req.path == "/big" else b"small")

    return ProxyListener(handler, limits=ClientLimits(), pop="pop-t")


async def paused(listener: ProxyListener) -> bool:
    return any(conn.writing_paused for conn in listener.connections)


async def test_a_client_that_does_not_read_holds_back_its_next_answer_and_gets_every_byte() -> None:
    """The edge stops writing to a client that does not read (its buffer over the high-water
    mark), answers the next pipelined request only once the first has drained, and then all of
    both arrive intact and in order."""
    answered: list[str] = []
    listener = big_or_small_listener(answered)
    port = await listener.start("127.0.0.1", 0, "test")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        await until(lambda: paused(listener), "the edge to pause writing")
        assert answered == ["/big"]  # /next waits for /big to drain
        first = await read_response(reader)
        second = await read_response(reader)
        assert (first.status, len(first.body), first.body == BIG) == (200, len(BIG), True)
        assert (second.status, second.body) == (200, b"small")
        assert answered == ["/big", "/next"]
    finally:
        writer.close()
        await listener.stop(5)


async def test_a_client_gone_while_its_answer_is_held_back_is_let_go_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that disconnects while the edge waits for its buffer to drain frees its
    connection without an error logged, and the edge goes on serving others."""
    answered: list[str] = []
    listener = big_or_small_listener(answered)
    port = await listener.start("127.0.0.1", 0, "test")
    try:
        _, stalled = await asyncio.open_connection("127.0.0.1", port)
        stalled.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        await until(lambda: paused(listener), "the edge to pause writing")
        stalled.transport.abort()

        async def gone() -> bool:
            return not listener.connections

        await until(gone, "the stalled connection to be let go")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader)).body == b"small"
        writer.close()
    finally:
        await listener.stop(5)
    assert answered == ["/big", "/other"]  # the stalled client's second request never ran
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
