"""PoolUpstream against scripted origins on real sockets: framing, reuse, errors, limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from multidict import CIMultiDict

from edgelab.config.edge import UpstreamOptions
from edgelab.edge.pool import PoolUpstream
from edgelab.edge.upstream import Upstream, make_upstream
from edgelab.errors import UpstreamError, UpstreamTimeout

Responder = Callable[[bytes, bytes], bytes | None]
"""(request head, request body) -> response bytes to send, or None to send nothing."""
OriginStarter = Callable[..., Awaitable["RawOrigin"]]
PoolFactory = Callable[..., Awaitable[Upstream]]


@dataclass
class RawOrigin:
    """An origin on a raw socket: each request is answered with what `respond` returns."""

    respond: Responder
    close_after: bool = False
    """Close the connection after each response (without saying so in a header)."""
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None
    hold: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                body = await _read_body(reader, head)
                self.requests.append((head, body))
                answer = self.respond(head, body)
                if answer is None:
                    await self.hold.wait()
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    return
        finally:
            writer.close()


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append((await reader.readexactly(size + 2))[:-2])
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":")[1]))
    return b""


@pytest.fixture
async def raw_origin() -> AsyncIterator[OriginStarter]:
    started: list[RawOrigin] = []

    async def start(respond: Responder, close_after: bool = False) -> RawOrigin:
        origin = RawOrigin(respond, close_after)
        origin.server = await asyncio.start_server(origin.handle, "127.0.0.1", 0)
        started.append(origin)
        return origin

    yield start
    for origin in started:
        origin.hold.set()
        assert origin.server is not None
        origin.server.close()
        await origin.server.wait_closed()


@pytest.fixture
async def pools() -> AsyncIterator[PoolFactory]:
    opened: list[Upstream] = []

    async def make(url: str, client: str = "pool", **options: object) -> Upstream:
        upstream = make_upstream(url, UpstreamOptions.model_validate({"client": client, **options}))
        await upstream.open()
        opened.append(upstream)
        return upstream

    yield make
    for upstream in opened:
        await upstream.close()


def ok(body: bytes = b"hello", extra: str = "") -> Responder:
    return lambda _h, _b: (
        f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
    )


H: CIMultiDict[str] = CIMultiDict({"Accept": "*/*"})


async def test_reuses_a_connection_once_the_body_was_read(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok())
    up = await pools(origin.url)
    for _ in range(3):
        resp = await up.fetch("GET", "/a?b=1", H, None)
        assert resp.status == 200 and await resp.read() == b"hello"
        await resp.release()
    assert origin.connections == 1
    head = origin.requests[0][0].decode()
    assert head.startswith("GET /a?b=1 HTTP/1.1\r\n")
    assert f"Host: {origin.url.removeprefix('http://')}\r\n" in head
    assert "Content-Length" not in head and "Transfer-Encoding" not in head


async def test_an_abandoned_body_closes_the_connection(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    big = b"x" * (1024 * 1024)
    origin = await raw_origin(ok(big))
    up = await pools(origin.url)
    resp = await up.fetch("GET", "/big", H, None)
    first = await resp.chunks().__anext__()
    assert 0 < len(first) < len(big)
    await resp.release()
    resp = await up.fetch("GET", "/big", H, None)
    assert await resp.read() == big
    await resp.release()
    assert origin.connections == 2


async def test_connection_close_from_origin_is_not_reused(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok(extra="Connection: close\r\n"), close_after=True)
    up = await pools(origin.url)
    for _ in range(2):
        resp = await up.fetch("GET", "/", H, None)
        assert await resp.read() == b"hello"
        await resp.release()
    assert origin.connections == 2


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_head_204_304_have_no_body_and_keep_the_connection(
    raw_origin: OriginStarter, pools: PoolFactory, client: str
) -> None:
    def respond(head: bytes, _: bytes) -> bytes:
        if head.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        if b"/nc" in head:
            return b"HTTP/1.1 204 No Content\r\n\r\n"
        return b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 1000\r\n\r\n'

    origin = await raw_origin(respond)
    up = await pools(origin.url, client)
    for method, path, status in (("HEAD", "/", 200), ("GET", "/nc", 204), ("GET", "/nm", 304)):
        resp = await up.fetch(method, path, H, None)
        assert resp.status == status
        assert await resp.read() == b""
        await resp.release()
    resp = await up.fetch("GET", "/nc", H, None)
    await resp.release()
    assert origin.connections == 1


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_chunked_and_close_delimited_responses(
    raw_origin: OriginStarter, pools: PoolFactory, client: str
) -> None:
    def respond(head: bytes, _: bytes) -> bytes:
        if b"/chunked" in head:
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"

    origin = await raw_origin(respond, close_after=False)
    up = await pools(origin.url, client)
    resp = await up.fetch("GET", "/chunked", H, None)
    assert resp.content_length is None
    assert await resp.read() == b"abcde"
    await resp.release()
    resp = await up.fetch("GET", "/chunked", H, None)
    await resp.read()
    await resp.release()
    assert origin.connections == 1
    origin.close_after = True
    resp = await up.fetch("GET", "/eof", H, None)
    assert await resp.read() == b"until the end"
    await resp.release()


async def test_interim_100_continue_is_skipped(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(
        lambda _h, _b: (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        )
    )
    up = await pools(origin.url)
    resp = await up.fetch("POST", "/p", H, b"data")
    assert resp.status == 201 and await resp.read() == b"ok"
    await resp.release()


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_truncated_and_malformed_responses_are_upstream_errors(
    raw_origin: OriginStarter, pools: PoolFactory, client: str
) -> None:
    origin = await raw_origin(
        lambda _h, _b: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close_after=True
    )
    up = await pools(origin.url, client)
    resp = await up.fetch("GET", "/", H, None)
    with pytest.raises(UpstreamError):
        await resp.read()
    await resp.release()

    garbled = await raw_origin(lambda _h, _b: b"HTTP/1.1 2OO OK\r\n\r\n")
    up = await pools(garbled.url, client)
    with pytest.raises(UpstreamError):
        resp = await up.fetch("GET", "/", H, None)
        await resp.read()


async def test_a_second_response_to_one_request_drops_the_connection(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(
        lambda _h, _b: (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
        )
    )
    up = await pools(origin.url)
    resp = await up.fetch("GET", "/", H, None)
    assert await resp.read() == b"a"
    await resp.release()
    resp = await up.fetch("GET", "/", H, None)
    assert await resp.read() == b"a"  # a fresh connection, not the smuggled "evil"
    await resp.release()
    assert origin.connections == 2


@pytest.mark.parametrize("client", ["pool", "session"])
async def test_silent_origin_times_out(
    raw_origin: OriginStarter, pools: PoolFactory, client: str
) -> None:
    origin = await raw_origin(lambda _h, _b: None)
    up = await pools(origin.url, client, read_timeout_s=0.2)
    with pytest.raises(UpstreamTimeout):
        await up.fetch("GET", "/", H, None)


async def test_body_stall_times_out(raw_origin: OriginStarter, pools: PoolFactory) -> None:
    origin = await raw_origin(lambda _h, _b: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    up = await pools(origin.url, read_timeout_s=0.2)
    resp = await up.fetch("GET", "/", H, None)
    with pytest.raises(UpstreamTimeout):
        await resp.read()
    await resp.release()


async def test_refused_is_upstream_error(pools: PoolFactory) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    up = await pools(f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamError) as e:
        await up.fetch("GET", "/", H, None)
    assert e.value.status == 502


async def test_streamed_request_bodies_keep_their_framing(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok())

    async def body() -> AsyncIterator[bytes]:
        for part in (b"ab", b"", b"cde"):
            yield part

    up = await pools(origin.url)
    for length in (5, None):
        resp = await up.fetch("POST", "/up", H, body(), length)
        await resp.read()
        await resp.release()
    (declared, body_a), (chunked, body_b) = origin.requests
    assert b"Content-Length: 5\r\n" in declared and b"Transfer-Encoding" not in declared
    assert b"Transfer-Encoding: chunked\r\n" in chunked and b"Content-Length" not in chunked
    assert body_a == body_b == b"abcde"
    resp = await up.fetch("POST", "/empty", H, None, 0)
    await resp.release()
    assert b"Content-Length: 0\r\n" in origin.requests[-1][0]


async def test_caller_framing_headers_are_never_copied(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok())
    up = await pools(origin.url)
    sneaky = CIMultiDict(
        [("Host", "evil.example"), ("Content-Length", "99"), ("Transfer-Encoding", "chunked")]
    )
    resp = await up.fetch("POST", "/", sneaky, b"abc")
    await resp.release()
    head = origin.requests[0][0].lower()
    assert b"evil.example" not in head and b"chunked" not in head
    assert head.count(b"content-length") == 1 and b"content-length: 3" in head
    with pytest.raises(UpstreamError, match="line break"):
        await up.fetch("GET", "/", CIMultiDict({"X-A": "1\r\nX-Injected: 1"}), None)


async def test_max_connections_queues_then_times_out(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok())
    up = await pools(origin.url, max_connections=1, connect_timeout_s=0.3)
    assert isinstance(up, PoolUpstream)
    first = await up.fetch("GET", "/1", H, None)
    waiting = asyncio.create_task(up.fetch("GET", "/2", H, None))
    await first.read()
    await first.release()  # hands the connection straight to the waiting request
    second = await waiting
    assert await second.read() == b"hello"
    with pytest.raises(UpstreamTimeout, match="busy"):
        await up.fetch("GET", "/3", H, None)  # `second` still holds the only connection
    await second.release()
    assert origin.connections == 1


def test_the_same_on_uvloop() -> None:
    """`edgelab edge` runs on uvloop, whose transports differ from asyncio's: a smoke run."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        def respond(head: bytes, _: bytes) -> bytes | None:
            if b"/silent" in head:
                return None
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"

        origin = RawOrigin(respond)
        origin.server = await asyncio.start_server(origin.handle, "127.0.0.1", 0)
        up = PoolUpstream(origin.url, UpstreamOptions(read_timeout_s=0.2))
        await up.open()
        try:
            for _ in range(2):
                resp = await up.fetch("POST", "/", H, b"body")
                assert await resp.read() == b"ok"
                await resp.release()
            assert origin.connections == 1
            with pytest.raises(UpstreamTimeout):
                await up.fetch("GET", "/silent", H, None)
        finally:
            await up.close()
            origin.hold.set()
            origin.server.close()
            await origin.server.wait_closed()

    uvloop.run(scenario())


async def test_a_cancelled_waiter_passes_its_connection_on(
    raw_origin: OriginStarter, pools: PoolFactory
) -> None:
    origin = await raw_origin(ok())
    up = await pools(origin.url, max_connections=1, connect_timeout_s=5)
    first = await up.fetch("GET", "/1", H, None)
    a = asyncio.create_task(up.fetch("GET", "/a", H, None))
    b = asyncio.create_task(up.fetch("GET", "/b", H, None))
    await asyncio.sleep(0)  # both are queued for the only connection (no I/O before that)
    await first.read()
    await first.release()  # hands it to `a`...
    a.cancel()  # ...which is cancelled before it could use it
    second = await b
    assert await second.read() == b"hello"
    await second.release()
    assert a.cancelled() and origin.connections == 1
