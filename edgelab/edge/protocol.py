"""The edge's client-side HTTP/1.1 connections: aiohttp's low-level server, hardened.

    server = EdgeHttpServer(handler, limits=ClientLimits(), pop="pop-1", max_line_size=8190, ...)
    runner = web.ServerRunner(server)          # as with `web.Server`
    server.open_connections, server.evicted, server.head_timeouts

What aiohttp's `web.Server` does not do for a server facing hostile clients:

- **Header-read deadline** (slowloris): a new connection must deliver a complete request head
  within `header_timeout_s`, and a kept-alive one within `header_timeout_s` of the first byte of
  its next head; otherwise it is answered `408` (if it sent part of a head) and closed. Bytes
  trickling in do not extend it. (An idle kept-alive connection is closed after `keepalive_s`.)
- **Connection cap** (idle floods): at most `max_connections` client connections. A new one
  over the cap pushes out the connection that has been waiting longest for a request head
  (idle keep-alive or half-sent); only when every connection is busy with a request is the new
  one answered `503` and closed. A flood of idle sockets therefore costs the flooder its own
  sockets, not other clients their service.
- **Client errors in one line**: aiohttp logs a traceback at ERROR for every malformed request
  ("Error handling request"); tracebacks are for our bugs, so a 4xx from the parser becomes one
  INFO line and a CDN-style error page. Handler failures (5xx) keep aiohttp's traceback.

The parser itself (aiohttp's llhttp) already refuses the request-smuggling shapes with 400:
Content-Length with Transfer-Encoding, duplicate or signed Content-Length, a Transfer-Encoding
that does not end in chunked, bad chunk sizes, obs-fold, bare LF, NUL in fields.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo

from edgelab.config.edge import ClientLimits
from edgelab.edge.errorpage import error_page

logger = logging.getLogger(__name__)

_SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\n\r\n"
)
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class EdgeHttpServer(web.Server):
    """`web.Server` whose connections are `EdgeRequestHandler`s, with the counters they feed."""

    def __init__(
        self,
        handler: Any,
        *,
        limits: ClientLimits,
        pop: str,
        on_close: Callable[[str], None] = lambda reason: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.pop = pop
        self.on_close = on_close
        """Called with the reason (`head_timeout`, `evicted`, `refused`) of each protective close."""
        self.open_connections = 0
        self.evicted = 0
        """Connections closed to make room for a new one (the longest waiting for a head)."""
        self.refused = 0
        """New connections answered 503 because every open one was busy with a request."""
        self.head_timeouts = 0
        """Connections closed because no complete request head arrived in time."""
        self.waiting: dict[EdgeRequestHandler, None] = {}
        """Connections waiting for a request head, longest-waiting first (insertion order)."""

    def __call__(self) -> EdgeRequestHandler:
        return EdgeRequestHandler(self, loop=self._loop, **self._kwargs)

    def admit(self, newcomer: EdgeRequestHandler) -> bool:
        """Make room for `newcomer` under the cap; False if there is none to make."""
        self.open_connections += 1
        if self.open_connections <= self.limits.max_connections:
            return True
        for victim in self.waiting:
            if victim is not newcomer:
                self.evicted += 1
                self.on_close("evicted")
                victim.drop("evicted: connection cap reached and it was the longest idle")
                return True
        self.refused += 1
        self.on_close("refused")
        return False


class EdgeRequestHandler(RequestHandler):
    """One client connection: aiohttp's handler plus a head deadline and a place in the cap."""

    def __init__(self, manager: EdgeHttpServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.edge = manager
        self._deadline: asyncio.TimerHandle | None = None
        """The pending head-deadline check; at most one, re-armed lazily (see `_arm`)."""
        self._head_since: float | None = None
        """Loop time when the head now awaited began (connection opened, or its first byte)."""
        self._heads = 0
        self._responses = 0
        self._partial = False
        self._counted = False
        self.client_ip = ""
        """The client's address, looked up once per connection rather than per request."""

    # -- connection lifetime -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.client_ip = peer_ip(transport.get_extra_info("peername"))
        self._counted = True
        if not self.edge.admit(self):
            self.edge.open_connections -= 1
            self._counted = False
            transport.write(_SERVICE_UNAVAILABLE)  # type: ignore[attr-defined]
            self.force_close()
            return
        self.edge.waiting[self] = None
        self._arm()  # a new connection owes its first head within the deadline

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_deadline()
        self.edge.waiting.pop(self, None)
        if self._counted:
            self._counted = False
            self.edge.open_connections -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data and self in self.edge.waiting:
            self._partial = True
            if self._head_since is None:
                self._arm()  # the first byte of the next head on a kept-alive connection
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:
            self._heads += self._request_count - before
            self._disarm()
            self.edge.waiting.pop(self, None)
            self._fail_body_on_parse_error()

    def _fail_body_on_parse_error(self) -> None:
        """A framing error inside a body being read (a bad chunk size after the head was
        accepted) makes aiohttp queue a 400 for a *next* request and leaves the current body
        waiting forever; fail that body instead, so the request ends now with a 400."""
        request = self._current_request
        if request is None or request.content.is_eof():
            return
        for message, _ in self._messages:
            if isinstance(message, _ErrInfo):
                request.content.set_exception(RequestPayloadError(message.message))
                request.content.feed_eof()  # nothing more will be read: no lingering on it
                return

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        # Called once per response, once written: the connection is idle again (aiohttp's
        # keep-alive timeout governs that), unless its next head is already here (pipelined).
        super().log_access(request, response, time)
        self._responses += 1
        if self._responses >= self._heads and self.transport is not None:
            self._partial = False
            self.edge.waiting[self] = None

    # -- the head deadline ---------------------------------------------------------------------

    # A timer per request (armed at a head's first byte, cancelled when the head is complete)
    # costs a few microseconds, a noticeable share of a cache hit (issue 3). So the deadline is
    # a start time plus at most one pending check per connection: completing a head only
    # clears the start time, and a check that finds a later head re-arms for that head's own
    # deadline. Bytes trickling in never move the start, so they cannot extend the deadline.

    def _arm(self) -> None:
        """A head begins now: it must be complete within `header_timeout_s`."""
        if self.transport is None:
            return
        self._head_since = self._loop.time()
        if self._deadline is None:
            self._deadline = self._loop.call_at(
                self._head_since + self.edge.limits.header_timeout_s, self._check_head
            )

    def _disarm(self) -> None:
        """The head arrived whole (a pending check will find nothing to do)."""
        self._head_since = None

    def _cancel_deadline(self) -> None:
        self._head_since = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _check_head(self) -> None:
        self._deadline = None
        since = self._head_since
        if since is None or self.transport is None:
            return  # no head awaited now (busy with a request, or idle between requests)
        due = since + self.edge.limits.header_timeout_s
        if self._loop.time() < due:  # a later head than the one this check was armed for
            self._deadline = self._loop.call_at(due, self._check_head)
            return
        self._head_timed_out()

    def _head_timed_out(self) -> None:
        self._head_since = None
        self.edge.head_timeouts += 1
        self.edge.on_close("head_timeout")
        if self._partial and self.transport is not None:
            self.transport.write(_REQUEST_TIMEOUT)
        self.drop(f"no complete request head in {self.edge.limits.header_timeout_s:g} s")

    def drop(self, why: str) -> None:
        """Close this connection now (it is not in the middle of a request)."""
        logger.info("closing client connection %s: %s", self.client_ip or "-", why)
        self._cancel_deadline()
        self.edge.waiting.pop(self, None)
        self.force_close()

    # -- client errors -------------------------------------------------------------------------

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)  # our bug: traceback
        reason = message or (str(exc) if exc else "") or "malformed request"
        logger.info("rejected a malformed request from %s: %s %s", request.remote, status, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; closing")
        resp = web.Response(
            status=status,
            body=error_page(status, "The request could not be understood.", self.edge.pop, "-"),
            content_type="text/html",
        )
        resp.force_close()
        return resp


def peer_ip(peername: Any) -> str:
    """The address part of a transport's `peername` ("" when there is none, e.g. a Unix socket)."""
    return str(peername[0]) if isinstance(peername, tuple) and peername else ""
