"""`PoolUpstream`: a keep-alive pool of asyncio connections to the origin, parsed with httptools.

    upstream = PoolUpstream("http://127.0.0.1:8080", UpstreamOptions())
    await upstream.open()
    resp = await upstream.fetch("GET", "/page/1", headers, body=None)
    async for chunk in resp.chunks(): ...
    await resp.release()          # back to the pool only if the body was read to its end
    await upstream.close()

The default `Upstream` (issue 2's benchmark: aiohttp's ClientSession costs about as much per
request as the rest of the edge together; this does the same job with one protocol object per
connection and a C parser). Same contract as `SessionUpstream`:

- refused/reset/garbled -> `UpstreamError` (502), connect or read timeout -> `UpstreamTimeout`
  (504); `read_timeout_s` is "no byte from the origin for this long", headers and body alike;
- request bodies are streamed (Content-Length when the client declared one, else chunked);
  response bodies are streamed with bounded memory (reading pauses past `_HIGH_WATER` bytes);
- HEAD, 1xx, 204 and 304 responses have no body; interim 1xx responses are skipped;
- a connection goes back to the pool only when its response was read to the end and both
  sides allow keep-alive; anything else (an error, an abandoned body) closes it;
- a request is sent once: no retry, not even on a kept-alive connection that turns out dead.
The origin is fixed at construction; the client's target only ever becomes the request line.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, TypeVar, cast

import httptools
from aiohttp import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from edgelab.config.edge import UpstreamOptions
from edgelab.errors import RequestRejected, UpstreamError, UpstreamTimeout

T = TypeVar("T")

CHUNK_BYTES = 64 * 1024
"""Request body chunks read from the client at a time."""

_HIGH_WATER = 256 * 1024
"""Buffered response body bytes at which reading from the origin pauses."""

_LOW_WATER = 64 * 1024
"""Buffered response body bytes below which reading resumes."""

_BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
"""Methods that carry no `Content-Length: 0` when they come without a body."""

_OURS = ("Host", "Content-Length", "Transfer-Encoding", "Connection")
"""Headers the pool writes itself (target and framing); copies from the caller are dropped."""


class _Connection(asyncio.Protocol):
    """One TCP connection to the origin and the state of the response being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.parser: httptools.HttpResponseParser | None = None
        self.head_only = False
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.until_close = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.reading_paused = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.writing_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.parser is not None and not self.complete:
            if self.head_done and self.until_close:
                self.complete = True  # a body delimited by the end of the connection
            else:
                self.error = UpstreamError(
                    "origin closed the connection mid-response"
                    if self.head_done
                    else "origin closed the connection without answering"
                )
        self._wake()
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.parser is None or self.complete:
            # Bytes nobody asked for (after a complete response: idle in the pool): the stream
            # can no longer be trusted to line up with requests.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self.error = UpstreamError(f"origin sent a malformed response: {e}")
            self.close()
            self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles the response

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            # A second response to one request: the connection is out of step; drop it.
            raise UpstreamError("origin sent more than one response")
        self.raw_headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # interim (100 Continue, 103 Early Hints): the real response follows
        self.status = status
        self.headers = headers = CIMultiDict(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.raw_headers]
        )
        self.keep_alive = self.parser.should_keep_alive()
        self.head_done = True
        if self.head_only:
            self.complete = True
        elif status not in (204, 304):
            self.until_close = (
                "Content-Length" not in headers and "Transfer-Encoding" not in headers
            )
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.head_only:
            return
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            self.complete = True
            self._wake()

    # -- used by the pool ----------------------------------------------------------------------

    def begin(self, head_only: bool) -> None:
        """Reset for a new request/response on this connection."""
        if self.parser is None or self.head_only:
            # After a complete response the parser is at a message boundary and carries on; after
            # HEAD it still waits for the body the headers announced, so it is replaced.
            self.parser = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.status = 0
        self.head_done = self.complete = self.keep_alive = self.until_close = False
        self.body.clear()
        self.buffered = 0
        self.error = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout_s: float, what: str) -> None:
        """Until something happens on this connection, or UpstreamTimeout after `timeout_s`."""
        waiter = self.waiter = self.loop.create_future()
        try:
            await _within(self.loop, waiter, timeout_s)
        except TimeoutError:
            self.close()
            raise UpstreamTimeout(f"origin sent nothing for {timeout_s:g} s ({what})") from None
        finally:
            self.waiter = None

    async def drain(self, timeout_s: float) -> None:
        if not self.writing_paused or self.closed:
            return
        waiter = self.drain_waiter = self.loop.create_future()
        try:
            await _within(self.loop, waiter, timeout_s)
        except TimeoutError:
            self.close()
            raise UpstreamTimeout(
                f"origin took no request body bytes for {timeout_s:g} s"
            ) from None
        finally:
            self.drain_waiter = None

    def take_body(self) -> bytes:
        """All body bytes buffered so far (resuming reading if it was paused)."""
        chunk = self.body.popleft() if len(self.body) == 1 else b"".join(self.body)
        self.body.clear()
        self.buffered = 0
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and not self.body

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def _within(
    loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[T], timeout_s: float
) -> T:
    """`await waiter`, or TimeoutError after `timeout_s` (cheaper than `asyncio.wait_for`: one
    timer handle, no task)."""
    timer = loop.call_later(timeout_s, _time_out, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


def _time_out(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class PoolResponse:
    """An origin response whose head has arrived; the body comes through `chunks()`."""

    __slots__ = ("status", "headers", "content_length", "_conn", "_pool", "_released")

    def __init__(self, pool: PoolUpstream, conn: _Connection) -> None:
        self.status = conn.status
        self.headers = conn.headers
        length = self.headers.get("Content-Length")
        self.content_length = (
            int(length)
            if length is not None and length.isdigit() and "Transfer-Encoding" not in self.headers
            else None
        )
        self._conn = conn
        self._pool = pool
        self._released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises UpstreamError/UpstreamTimeout if the origin breaks off."""
        conn = self._conn
        timeout_s = self._pool.options.read_timeout_s
        while True:
            if conn.body:
                yield conn.take_body()
            elif conn.complete:
                return
            elif conn.error is not None:
                raise conn.error
            else:
                await conn.wait(timeout_s, "response body")

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def complete_body(self) -> bytes | None:
        conn = self._conn
        if not conn.complete:
            return None
        return conn.take_body() if conn.body else b""

    async def release(self) -> None:
        """Hand the connection back (body read to its end, keep-alive) or close it."""
        if not self._released:
            self._released = True
            self._pool._release(self._conn)


class PoolUpstream:
    """`Upstream` on a pool of keep-alive connections to one origin, at most `max_connections`."""

    def __init__(self, origin_url: str, options: UpstreamOptions) -> None:
        self.origin = URL(origin_url)
        self.options = options
        host = self.origin.raw_host
        assert host is not None, "origin URL without a host"
        self._host = host
        self._port = self.origin.port or 80
        self._host_header = self.origin.raw_authority if self.origin.explicit_port else host
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(UpstreamError("edge is shutting down"))
        self._waiters.clear()

    @property
    def idle_connections(self) -> int:
        """Kept-alive connections waiting in the pool for a request."""
        return len(self._idle)

    @property
    def open_connections(self) -> int:
        """Connections open (or opening) to the origin, idle or busy."""
        return self._open

    async def fetch(
        self,
        method: str,
        target: str,
        headers: Any,
        body: bytes | Any | None,
        content_length: int | None = None,
    ) -> PoolResponse:
        conn = await self._acquire()
        options = self.options
        try:
            conn.begin(head_only=method == "HEAD")
            assert conn.transport is not None
            if body is None or isinstance(body, bytes):
                length = len(body) if body is not None else content_length
                head = self._head(method, target, headers, length, chunked=False)
                conn.transport.write(head + body if body else head)
            else:
                await self._send_streamed(conn, method, target, headers, body, content_length)
            while not conn.head_done:
                if conn.error is not None:
                    raise conn.error
                await conn.wait(options.read_timeout_s, "response headers")
        except BaseException:
            conn.close()
            self._forget()
            raise
        return PoolResponse(self, conn)

    # -- request serialisation -----------------------------------------------------------------

    def _head(
        self, method: str, target: str, headers: Any, length: int | None, *, chunked: bool
    ) -> bytes:
        if not isinstance(headers, CIMultiDict | CIMultiDictProxy):
            headers = CIMultiDict(headers)  # the checks below need case-insensitive names
        if any(name in headers for name in _OURS):  # in C, and rarely true
            headers = CIMultiDict(headers)
            for name in _OURS:
                headers.popall(name, None)
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
            # Only a stage bug could put a line break in a name or value (the client parser
            # rejects them); never let one split the request we send.
            raise UpstreamError("refusing to forward a header with a line break in it")
        if chunked:
            framing = "Transfer-Encoding: chunked\r\n"
        elif length is not None and (length > 0 or method not in _BODYLESS_METHODS):
            framing = f"Content-Length: {length}\r\n"
        else:
            framing = ""
        return (
            f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n{fields}{framing}\r\n"
        ).encode("utf-8", "surrogateescape")

    async def _send_streamed(
        self,
        conn: _Connection,
        method: str,
        target: str,
        headers: Any,
        body: AsyncIterable[bytes] | StreamReader,
        content_length: int | None,
    ) -> None:
        """Head, then the body as the client sends it: as declared, or chunk-encoded."""
        assert conn.transport is not None
        transport = conn.transport
        chunked = content_length is None
        transport.write(self._head(method, target, headers, content_length, chunked=chunked))
        chunks = body.iter_chunked(CHUNK_BYTES) if isinstance(body, StreamReader) else body
        timeout_s = self.options.read_timeout_s
        sent = 0
        async for chunk in chunks:
            if conn.closed or conn.error is not None:
                raise conn.error or UpstreamError("origin closed the connection mid-request")
            if not chunk:
                continue
            sent += len(chunk)
            if content_length is None:
                transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
            elif sent > content_length:
                break
            else:
                transport.write(chunk)
            await conn.drain(timeout_s)
        if content_length is None:
            transport.write(b"0\r\n\r\n")
        elif sent != content_length:
            # Never let the origin frame this body differently from how the client declared it.
            raise RequestRejected(f"request body of {sent} bytes, {content_length} declared")

    # -- the pool ------------------------------------------------------------------------------

    async def _acquire(self) -> _Connection:
        loop = self._loop
        assert loop is not None, "PoolUpstream.open() was not called"
        idle = self._idle
        while idle:
            conn = idle.pop()  # the most recently used: warm, and least likely closed
            if not conn.closed and loop.time() - conn.idle_since < self.options.keepalive_s:
                return conn
            conn.close()
            self._open -= 1
        if self._open >= self.options.max_connections:
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await _within(loop, waiter, self.options.connect_timeout_s)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"all {self.options.max_connections} connections to origin {self.origin} "
                    f"stayed busy for {self.options.connect_timeout_s:g} s"
                ) from None
            except BaseException:
                # Cancelled just after being handed a connection or a free slot: pass it on.
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed = waiter.result()
                    if handed is not None:
                        self._release(handed)
                    else:
                        self._open += 1
                        self._forget()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if handed is not None:
                return handed
            # None: a slot was freed (a connection closed); open a new one in it.
        self._open += 1
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(loop), self._host, self._port),
                self.options.connect_timeout_s,
            )
        except TimeoutError:
            self._forget()
            raise UpstreamTimeout(
                f"origin {self.origin} did not accept a connection in "
                f"{self.options.connect_timeout_s:g} s"
            ) from None
        except OSError as e:
            self._forget()
            raise UpstreamError(f"origin {self.origin} unreachable: {e.strerror or e}") from e
        except BaseException:
            self._forget()
            raise
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closed or not conn.reusable():
            conn.close()
            self._forget()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        assert self._loop is not None
        conn.idle_since = self._loop.time()
        self._idle.append(conn)

    def _forget(self) -> None:
        """A connection is gone: free its slot, and let a waiting request open a new one."""
        self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
