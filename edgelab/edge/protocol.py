"""One client connection of the proxy listener: an asyncio `Protocol` on httptools, hardened.

    listener = ProxyListener(handler, limits=ClientLimits(), pop="pop-1")   # edge/listener.py
    # each accepted socket gets a ClientConnection(listener); for each request it calls
    resp = await handler(client_request, connection)   # EdgeResponse to write, or None when the
                                                       # handler streamed it (connection.send)

Why not aiohttp's `web.Server`: on a cache hit it was most of the edge's CPU (issue 3: aiohttp
answering a fixed body reached about half of nginx). This does only what the edge needs: parse
with llhttp (httptools), build the request's headers once, hand a `ClientRequest` to the
handler, serialise the answer in one join (`edge/responsehead.py`) and write it once.

What it guarantees a server facing hostile clients (tests/integration/test_hostile.py and
test_listener.py hold it to each):

- **Header-read deadline** (slowloris): a new connection must deliver a complete request head
  within `header_timeout_s`, a kept-alive one within `header_timeout_s` of the first byte of its
  next head; otherwise `408` (if part of a head arrived) and close. Bytes trickling in never move
  the start. An idle kept-alive connection is closed after `keepalive_s`.
- **Connection cap** (idle floods): see `ProxyListener.admit`; connections waiting for a head are
  the ones pushed out, longest-waiting first.
- **Header limits**: a request target over `max_header_bytes` is 414, a field over it or a head
  over `framing.head_limit()` is 431, counted as bytes arrive (httptools would buffer without end).
- **Framing**: llhttp's refusals and `framing.refuse_head` (smuggling shapes, foreign targets,
  CONNECT) are answered 400 (501/505 where the RFC says) with the edge's error page, in order
  after the requests pipelined before them, and the connection closes: nothing after a framing
  error is parsed, so nothing smuggled reaches a stage. A framing error inside a body the handler
  is reading fails that body (`ClientBody` raises `RequestRejected`: 400, and the origin
  connection fed from it is dropped mid-body).
- **Bodies** are streamed into an `aiohttp.StreamReader` per request (what `ClientBody` wraps),
  with back-pressure: past its high-water mark reading from the socket pauses. `100 Continue`
  goes out only when a stage first reads the body.
- **Pipelining**: requests are answered one at a time in order; at most `_MAX_QUEUED` parsed
  requests wait, beyond that reading pauses. A bodiless request that finds the connection idle
  is answered in the read callback when its handler does not wait (a cache hit), in the
  connection's serving task otherwise (`_answer_now`): the same order, the same task.
- **Unread bodies**: a body received whole but not read is dropped; one still arriving when its
  response is done closes the connection (there is no bound on what a client might still send).
- **Closing** after a response is lingering (RFC 9112 §9.6): the edge shuts its sending side and
  reads and drops what the client still sends for up to `_LINGER_S`, so the kernel does not
  answer those bytes with a reset that could destroy the response at the client.
- **Errors**: a client's mistake is one INFO line, never a traceback; an exception from the
  handler is our bug: logged with its traceback, answered 500 if nothing was sent yet.
"""

from __future__ import annotations

import asyncio
import logging
import types
from asyncio.tasks import _enter_task, _leave_task  # what 3.12's eager tasks use
from collections import deque
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, cast

import httptools
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol
from aiohttp.tcp_helpers import tcp_nodelay
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from edgelab.edge.body import ClientBody
from edgelab.edge.errorpage import error_page
from edgelab.edge.exchange import ClientRequest, EdgeResponse
from edgelab.edge.fieldnames import CONTENT_LENGTH, HOST, TRANSFER_ENCODING, field_name
from edgelab.edge.framing import (
    FIELDS_TOO_LARGE,
    TARGET_TOO_LONG,
    Refusal,
    content_length,
    expects_continue,
    head_limit,
    keep_alive,
    refuse_head,
)
from edgelab.edge.responsehead import (
    LAST_CHUNK,
    ResponseHead,
    chunk,
    response_head,
    stored_response_head,
)

if TYPE_CHECKING:
    from edgelab.edge.listener import ProxyListener

logger = logging.getLogger(__name__)

_BODY_BUFFER = 64 * 1024
"""A request body's StreamReader pauses reading from the socket past twice this."""

_MAX_QUEUED = 16
"""Parsed pipelined requests waiting for their turn; past this, reading pauses."""

_LINGER_S = 2.0
"""After the last response, how long client bytes are still read (and dropped) before close."""

_ONE_WRITE_BYTES = 64 * 1024
"""Bodies up to this size go out joined to their head, in one write; larger ones in two."""

_SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\n\r\n"
)
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


_NO_FLOW_CONTROL = (AttributeError, NotImplementedError, RuntimeError)
"""What a transport without read flow control (or a closing one) raises on pause/resume."""


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is on the connection."""


class Pending:
    """A parsed request waiting for (or in) its turn, with what its response needs to know."""

    __slots__ = ("request", "stream", "version", "keep_alive", "head_request")

    def __init__(
        self,
        request: ClientRequest,
        stream: StreamReader | None,
        version: str,
        keep: bool,
        head_request: bool,
    ) -> None:
        self.request = request
        self.stream = stream
        """The body as it arrives (None: the request has no body)."""
        self.version = version
        self.keep_alive = keep
        """The client's wish; the response may still close."""
        self.head_request = head_request


class ClientConnection:
    """One client connection: parse, queue, serve in order, write, and the guards above.

    An asyncio protocol by its methods (the loop calls them by name), with no base class: so
    that it compiles to a native class (setup.py), its write flow control is its own rather
    than aiohttp's `BaseProtocol`'s (`pause_writing`, `resume_writing`, `_drain_helper`)."""

    def __init__(self, listener: ProxyListener) -> None:
        self._loop = listener.loop
        self.transport: asyncio.Transport | None = None
        self._paused = False
        """The transport's write buffer is over its high-water mark."""
        self._drain_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        """A body's StreamReader asked for a pause (`pause_reading`)."""
        self._buffer_paused = False
        """Too many pipelined requests queued (`_pause_reading_for_buffer`)."""
        self.listener = listener
        limits = listener.limits
        self._max_field = limits.max_header_bytes
        self._max_head = head_limit(limits.max_header_bytes)
        self._header_timeout_s = limits.header_timeout_s
        self._keepalive_s = limits.keepalive_s
        self._idle_check_s = min(limits.header_timeout_s, limits.keepalive_s)
        """How far ahead an idle connection's check is armed (see `_watch`)."""
        self._http = httptools.HttpRequestParser(self)
        self.client_ip = ""
        """The client's address, looked up once per connection rather than per request."""
        self.queue: deque[Pending | Refusal] = deque()
        self.task: asyncio.Task[None] | None = None
        """Serves the queue, one request at a time; started with the first request and kept
        for the connection's life (a task per request costs more than waking this one)."""
        self._wake: asyncio.Future[None] | None = None
        """Set while the task waits for the next request."""
        self.busy = False
        """A request is being answered or waits its turn."""
        self.current: Pending | None = None
        """The request being answered."""
        self._resuming: Coroutine[Any, Any, bool] | None = None
        """The rest of a request begun in `_answer_now` that waits: the serving task finishes
        it first."""
        self._started = False
        """The current response's head was written (a failure now can only cut the connection)."""
        self.counted = False
        # the head being parsed
        self._in_head = False
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._fields_size = 0
        """Bytes of the head's fields so far (bounded by `head_limit`, whatever the pieces)."""
        self._head_bytes = 0
        self._parsing: Pending | None = None
        """The request whose body the parser is feeding."""
        self._refusal: Refusal | None = None
        # lifetime
        self._head_since: float | None = None
        """Loop time when the head now awaited began (connection opened, or its first byte)."""
        self._idle_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        """The pending deadline check; at most one, re-armed lazily (see `_watch`)."""
        self._closing = False
        """No request after the current one: close once it is answered."""
        self._lingering: asyncio.TimerHandle | None = None
        self._discard = False
        """Parse nothing more (after a framing error, or while lingering)."""

    # -- connection lifetime -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tr = cast(asyncio.Transport, transport)  # (uvloop's is one by its methods)
        tcp_nodelay(tr, True)
        self.transport = tr
        self.client_ip = peer_ip(transport.get_extra_info("peername"))
        listener = self.listener
        listener.connections.add(self)
        self.counted = True
        if not listener.admit(self):
            self.counted = False
            listener.open_connections -= 1
            tr.write(_SERVICE_UNAVAILABLE)
            self._linger()
            return
        listener.waiting[self] = None
        self._head_since = self._loop.time()  # a new connection owes its first head from now
        self._watch(self._head_since + self._header_timeout_s)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        waiter = self._drain_waiter
        if waiter is not None:  # a response waits for the buffer to drain: it never will
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("client closed the connection"))
        self._cancel_timers()
        listener = self.listener
        listener.waiting.pop(self, None)
        listener.connections.discard(self)
        if self.counted:
            self.counted = False
            listener.open_connections -= 1
        gone = ConnectionResetError("client closed the connection")
        for pending in (self.current, self._parsing, *self.queue):
            if isinstance(pending, Pending) and pending.stream is not None:
                stream = pending.stream
                if not stream.is_eof() and stream.exception() is None:
                    stream.set_exception(gone)
        self.queue.clear()
        self._parsing = None
        wake = self._wake
        if wake is not None:  # the serving task waits for a request that will not come: end it
            self._wake = None
            wake.set_result(None)

    def eof_received(self) -> bool:
        # The client will send nothing more. Close now unless a request is still being answered
        # (a client may half-close right after its request and wait for the answer).
        if self._lingering is not None or not self.busy:
            return False
        self._closing = True
        self._discard = True
        return True

    # -- reading and parsing -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._discard:
            return
        if self._parsing is None:
            self._head_bytes += len(data)
        try:
            self._http.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT is refused in refuse_head; this is an `Upgrade:` request, answered as
            # plain HTTP (Upgrade is hop-by-hop, never forwarded). What follows its head is
            # in the other protocol: read no further, close after the answer.
            self._closing = True
            self._discard = True
        except httptools.HttpParserCallbackError:
            refusal = self._refusal
            if refusal is None:  # an exception of ours in a callback: a bug, not the client's
                logger.exception("parser callback failed for %s", self.client_ip or "-")
                refusal = Refusal(400, "malformed request")
            self._refuse(refusal)
        except httptools.HttpParserError as e:
            self._framing_error(str(e) or type(e).__name__)
        else:
            if self._in_head and self._head_bytes > self._max_head:
                self._refuse(Refusal(FIELDS_TOO_LARGE, "request head too large"))
            elif len(self.queue) > _MAX_QUEUED:
                self._pause_reading_for_buffer()

    def on_message_begin(self) -> None:
        self._in_head = True
        self._url = b""
        self._fields = []
        self._fields_size = 0
        self._idle_since = None
        if self._head_since is None:  # the first byte of a head on a kept-alive connection
            self._head_since = now = self._loop.time()
            self._watch(now + self._header_timeout_s)

    def on_url(self, url: bytes) -> None:
        self._url += url  # may come in pieces when the request line does
        if len(self._url) > self._max_field:
            self._refusal = Refusal(TARGET_TOO_LONG, "request target too long")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # a chunked body's trailer: not forwarded, as hop-by-hop metadata
        size = len(name) + len(value)
        if size > self._max_field:
            self._refusal = Refusal(FIELDS_TOO_LARGE, "header field too large")
            raise _Refused
        self._fields_size += size + 4
        if self._fields_size > self._max_head:
            self._refusal = Refusal(FIELDS_TOO_LARGE, "request head too large")
            raise _Refused
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_since = None
        self._head_bytes = 0
        self.listener.waiting.pop(self, None)
        parser = self._http
        method = parser.get_method().decode("ascii")
        version = parser.get_http_version()
        headers: CIMultiDict[str] = CIMultiDict(
            [(field_name(n), v.decode("utf-8", "surrogateescape")) for n, v in self._fields]
        )
        target = self._url.decode("utf-8", "surrogateescape")
        refusal = refuse_head(method, target, version, headers)
        if refusal is not None:
            self._refusal = refusal
            raise _Refused
        length = content_length(headers) if CONTENT_LENGTH in headers else None
        stream = None
        body = None
        if length or TRANSFER_ENCODING in headers:  # else no body (RFC 9112 §6.3)
            limits = self.listener.limits
            # (it calls pause_reading/resume_reading and reads _reading_paused: ours)
            stream = StreamReader(cast(BaseProtocol, self), _BODY_BUFFER, loop=self._loop)
            body = ClientBody(
                stream,
                limits.max_request_body_bytes,
                limits.body_timeout_s,
                self if expects_continue(version, headers) else None,
            )
        path, _, query = target.partition("?")
        pending = Pending(
            ClientRequest(
                method=method,
                path=path,
                query_string=query,
                headers=headers,
                client_ip=self.client_ip,
                host=headers.get(HOST, ""),
                body_stream=body,
                content_length=length,
            ),
            stream,
            version,
            keep_alive(version, headers),
            method == "HEAD",
        )
        self._parsing = pending if stream is not None else None
        self._enqueue(pending)

    def on_body(self, body: bytes) -> None:
        pending = self._parsing
        if pending is not None and pending.stream is not None:
            stream = pending.stream
            if not stream.is_eof() and stream.exception() is None:
                stream.feed_data(body)

    def on_message_complete(self) -> None:
        pending = self._parsing
        if pending is not None and pending.stream is not None and not pending.stream.is_eof():
            pending.stream.feed_eof()
        self._parsing = None

    def _framing_error(self, why: str) -> None:
        """llhttp refused what it read: in a head, answer 400 after the requests before it; in a
        body, fail that body (its request ends 400 when a stage reads it) and close after it."""
        pending = self._parsing
        if pending is not None and pending.stream is not None and not self._in_head:
            # The stage reading the body logs the rejection (one line per client mistake).
            logger.debug("malformed request body from %s: %s", self.client_ip or "-", why)
            stream = pending.stream
            if not stream.is_eof():
                stream.set_exception(RequestPayloadError(why))
            self._parsing = None
            self._closing = True
            self._discard = True
            return
        self._refuse(Refusal(400, why))

    def _refuse(self, refusal: Refusal) -> None:
        logger.info(
            "rejected a malformed request from %s: %s %s",
            self.client_ip or "-",
            refusal.status,
            refusal.reason,
        )
        self._discard = True
        self._in_head = False
        self._head_since = None
        self.listener.waiting.pop(self, None)
        self._enqueue(refusal)

    # -- flow control --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The client is still there (a body's StreamReader asks before it waits)."""
        return self.transport is not None

    @property
    def writing_paused(self) -> bool:
        """The client is not reading fast enough: the next response waits for the buffer."""
        return self._paused

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _drain_helper(self) -> None:
        """Wait until the transport's buffer drains (raises if the client goes meanwhile)."""
        if self.transport is None:
            raise ConnectionResetError("client closed the connection")
        if not self._paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await waiter

    def _pause_reading_for_buffer(self) -> None:
        self._buffer_paused = True
        self._pause_transport_reading()

    def _resume_reading_for_buffer(self) -> None:
        self._buffer_paused = False
        if not self._reading_paused:
            self._resume_transport_reading()

    def _pause_transport_reading(self) -> None:
        if self.transport is not None:
            try:
                self.transport.pause_reading()
            except _NO_FLOW_CONTROL:
                pass

    def _resume_transport_reading(self) -> None:
        if self.transport is not None:
            try:
                self.transport.resume_reading()
            except _NO_FLOW_CONTROL:
                pass

    # as aiohttp's StreamReader drives them, for a request body

    def pause_reading(self) -> None:
        self._reading_paused = True
        self._pause_transport_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        self._reading_paused = False
        if not self._buffer_paused:
            self._resume_transport_reading()

    # -- serving -------------------------------------------------------------------------------

    def _enqueue(self, item: Pending | Refusal) -> None:
        self.queue.append(item)
        self.busy = True
        wake = self._wake
        if wake is not None:  # the serving task waits: nothing is in flight or queued
            if type(item) is Pending and item.stream is None and self._answer_now(item):
                return  # answered here; the task still waits
            self._wake = None
            wake.set_result(None)
        elif self.task is None:
            self.task = self._loop.create_task(self._serve())

    def _answer_now(self, item: Pending) -> bool:
        """Answer `item` (bodiless, next in turn) in this callback rather than wake the serving
        task for it: a cache hit then costs no future and no task step (issue 3). The serving
        task is entered as the current task meanwhile, so the handler runs in the task it
        would have run in; a handler that has to wait is handed to that task, which finishes
        it from where it waits (`_resume`). True when answered and the connection is idle
        again; False when the task is to go on (the item is still queued, was handed over, or
        the connection is to close)."""
        task = self.task
        if task is None or self._paused or self._closing or self.transport is None:
            return False
        loop = self._loop
        try:
            _enter_task(loop, task)
        except RuntimeError:  # called from inside another task rather than by the loop
            return False
        self.queue.popleft()
        self.current = item
        self._started = False
        try:
            step = self.listener.handler(item.request, self)
            if isinstance(step, EdgeResponse):  # answered without waiting (a cache hit)
                resp: EdgeResponse | None = step
            else:
                try:
                    waiting_on = step.send(None)
                except StopIteration as done:
                    resp = done.value
                else:
                    self._resuming = self._answer(item, (step, waiting_on))
                    return False
            if resp is not None:
                self._send_whole(item, resp)
            if self._paused and self.transport is not None:
                self._resuming = self._drained(item)
                return False
            stop = self._answered(item)
        except Exception as e:
            stop = self._failed(e)
        finally:
            _leave_task(loop, task)
        self.current = None
        if stop or self.transport is None or self._lingering is not None or self.listener.stopping:
            return False
        self.busy = False
        self._idle()
        return True

    async def _serve(self) -> None:
        """Answer queued requests in order, then wait for more; ends with the connection."""
        try:
            while self.transport is not None or self._resuming is not None:
                stop = False
                resuming = self._resuming
                if resuming is not None:  # begun in `_answer_now`, and waiting
                    self._resuming = None
                    stop = await resuming
                while not stop and self.queue and self.transport is not None:
                    item = self.queue.popleft()
                    if self._buffer_paused and len(self.queue) <= _MAX_QUEUED // 2:
                        self._resume_reading_for_buffer()
                    if isinstance(item, Refusal):
                        self._write_error(item.status, item.reason)
                        self._closing = True
                        break
                    # One request, then its response (in this task, not a task of its own)
                    stop = await self._answer(item)
                self.current = None
                if self.transport is None or self._lingering is not None:
                    break
                if self._closing or self.listener.stopping:
                    self._linger()
                    break
                self.busy = False
                self._idle()
                self._wake = wake = self._loop.create_future()
                await wake
        finally:
            self.busy = False
            self.current = None
            self._wake = None

    async def _answer(
        self, item: Pending, begun: tuple[Coroutine[Any, Any, Any], Any] | None = None
    ) -> bool:
        """Run `item`'s handler (or finish it, `begun` in `_answer_now`: the handler's coroutine
        and what it waits on) and write its response; True when the connection is to close
        after it (the client went away or asked to close, its body is still coming, an error)."""
        if begun is None:
            self.current = item
            self._started = False
        try:
            if begun is None:
                step = self.listener.handler(item.request, self)
                resp = step if isinstance(step, EdgeResponse) else await step
            else:
                resp = await _resume(*begun)
            if resp is not None:
                self._send_whole(item, resp)
            if self._paused and self.transport is not None:
                await self._drain_helper()
        except Exception as e:
            return self._failed(e)
        return self._answered(item)

    async def _drained(self, item: Pending) -> bool:
        """`_answer`'s end for a response written in `_answer_now` that filled the buffer."""
        try:
            await self._drain_helper()
        except Exception as e:
            return self._failed(e)
        return self._answered(item)

    def _answered(self, item: Pending) -> bool:
        """After `item`'s response: True when the connection is to close."""
        stream = item.stream
        if (stream is not None and not stream.is_eof()) or not item.keep_alive:
            self._closing = True  # its body is still coming, or the client said so
        return self._closing

    def _failed(self, e: Exception) -> bool:
        """The handler or the write failed: the connection closes (True)."""
        if not isinstance(e, ConnectionError):  # (that is the client gone away)
            logger.exception("error handling a request from %s", self.client_ip or "-", exc_info=e)
            if not self._started:
                self._write_error(500, "internal error")
        self._closing = True
        return True

    def _send_whole(self, pending: Pending, resp: EdgeResponse) -> None:
        body = resp.body
        head = self._start(pending, resp, len(body))
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not head.send_body or not body:
            transport.write(head.data)
        elif len(body) <= _ONE_WRITE_BYTES:
            transport.write(head.data + body)
        else:
            transport.write(head.data)
            transport.write(body)

    async def send(self, resp: EdgeResponse) -> None:
        """Write `resp`, streaming its body. If the body breaks off (the stream raises), the
        connection is cut, so the client sees a short body rather than a complete-looking one;
        the exception propagates. Returns quietly if the client has gone."""
        pending = self.current
        assert pending is not None and resp.stream is not None
        head = self._start(pending, resp, None)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(head.data)
        if not head.send_body:
            return
        declared = resp.content_length
        sent = 0
        try:
            async for data in resp.stream:
                if not data:
                    continue
                if self.transport is None or transport.is_closing():
                    raise ConnectionResetError("client closed the connection")
                sent += len(data)
                if declared is not None and sent > declared:
                    raise ConnectionAbortedError(f"body longer than the {declared} bytes declared")
                transport.write(chunk(data) if head.chunked else data)
                if self._paused:
                    await self._drain_helper()
        except BaseException:
            self.cut()
            raise
        if head.chunked:
            transport.write(LAST_CHUNK)

    def _start(self, pending: Pending, resp: EdgeResponse, length: int | None) -> ResponseHead:
        """`resp`'s head (`length`: its body's, None when streamed), the response marked as
        begun, and the connection marked to close after it when the head says so."""
        stored = resp.stored_fields
        if stored is not None and length is not None:  # a cache hit: its fields joined once
            head = stored_response_head(
                resp.status,
                stored[0],
                stored[1],
                head_request=pending.head_request,
                version=pending.version,
                keep_alive=self._keeps(pending),
                length=length,
            )
        else:
            head = response_head(
                resp.status,
                resp.headers,
                head_request=pending.head_request,
                version=pending.version,
                keep_alive=self._keeps(pending),
                length=length,
                declared_length=resp.content_length if length is None else None,
            )
        self._started = True
        if not head.keep_alive:
            self._closing = True
        return head

    def _keeps(self, pending: Pending) -> bool:
        """Whether the connection may stay open after `pending`'s response: the client wants
        it, the edge is not stopping, and no part of the request's body is still to come."""
        stream = pending.stream
        return (
            pending.keep_alive
            and not self._closing
            and not self.listener.stopping
            and (stream is None or stream.is_eof())
        )

    async def write(self, data: bytes) -> None:
        """Raw bytes to the client (`100 Continue`; see `ClientBody`)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _write_error(self, status: int, reason: str) -> None:
        """The edge's own error page, closing the connection."""
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Content-Type"] = "text/html; charset=utf-8"
        headers["Cache-Control"] = "no-store"
        body = error_page(status, reason, self.listener.pop, "-")
        head = response_head(
            status, headers, head_request=False, version="1.1", keep_alive=False, length=len(body)
        )
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head.data + body)

    # -- deadlines -----------------------------------------------------------------------------

    # A timer per request (armed at a head's first byte, cancelled when the head is complete)
    # costs a few microseconds, a noticeable share of a cache hit (issue 3). So the deadlines
    # are start times plus at most one pending check per connection, re-armed when it finds a
    # later deadline than the one it was armed for. A check is never armed later than
    # `header_timeout_s` ahead while idle, so a head starting later needs no new timer. Bytes
    # trickling in never move a start, so they cannot extend the deadline.

    def _watch(self, due: float) -> None:
        """Make sure a check runs no later than `due`."""
        timer = self._timer
        if timer is None:
            self._timer = self._loop.call_at(due, self._check)
        elif timer.when() > due:
            timer.cancel()
            self._timer = self._loop.call_at(due, self._check)

    def _idle(self) -> None:
        """Every response is out: the connection waits for its next head (or has part of it)."""
        self.listener.waiting[self] = None
        now = self._loop.time()
        if self._in_head:  # a pipelined head began while busy: its deadline starts now
            self._head_since = now
        else:
            self._idle_since = now
        self._watch(now + self._idle_check_s)

    def _due(self) -> float | None:
        if self.busy:
            return None  # busy with a request: `_idle` re-arms when it is done
        if self._head_since is not None:
            return self._head_since + self._header_timeout_s
        if self._idle_since is not None:
            return self._idle_since + self._keepalive_s
        return None

    def _check(self) -> None:
        self._timer = None
        if self.transport is None or self._lingering is not None:
            return
        due = self._due()
        if due is None:
            return
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check)
            return
        if self._head_since is None:  # idle for keepalive_s
            self.drop(None)
            return
        listener = self.listener
        listener.head_timeouts += 1
        listener.on_close("head_timeout")
        logger.info(
            "closing client connection %s: no complete request head in %g s",
            self.client_ip or "-",
            self._header_timeout_s,
        )
        if self._in_head and self.transport is not None:
            self.transport.write(_REQUEST_TIMEOUT)
        self._linger()

    def _cancel_timers(self) -> None:
        for handle in (self._timer, self._lingering):
            if handle is not None:
                handle.cancel()
        self._timer = None

    # -- closing -------------------------------------------------------------------------------

    def _linger(self) -> None:
        """Close after what was written: stop sending, read and drop for up to `_LINGER_S`."""
        transport = self.transport
        if transport is None or self._lingering is not None:
            return
        self._discard = True
        self._closing = True
        self.listener.waiting.pop(self, None)
        self.queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._lingering = self._loop.call_later(_LINGER_S, transport.close)
        self._reading_paused = self._buffer_paused = False
        try:
            transport.resume_reading()
            if transport.can_write_eof():
                transport.write_eof()
        except (AttributeError, NotImplementedError, RuntimeError, OSError):
            transport.close()

    def drop(self, why: str | None) -> None:
        """Close now, without an answer (evicted, or idle while the listener stops); `why`
        is logged (None: an ordinary close, not worth a line)."""
        if why is not None:
            logger.info("closing client connection %s: %s", self.client_ip or "-", why)
        self.listener.waiting.pop(self, None)
        self._discard = True
        if self.transport is not None:
            self.transport.close()

    def cut(self) -> None:
        """Abort the connection: the response cannot be completed honestly."""
        self._discard = True
        self._closing = True
        if self.transport is not None:
            self.transport.abort()


@types.coroutine
def _resume(step: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Finish `step`, begun outside the awaiting task and suspended on `waiting_on`: what
    `await step` would have done from there (the same future goes up to the task, results and
    exceptions come down to `step`)."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as e:
            try:
                waiting_on = step.throw(e)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = step.send(sent)
            except StopIteration as done:
                return done.value


def peer_ip(peername: Any) -> str:
    """The address part of a transport's `peername` ("" when there is none, e.g. a Unix socket)."""
    return str(peername[0]) if isinstance(peername, tuple) and peername else ""
