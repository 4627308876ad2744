"""The client's request body as stages and the upstream read it: bounded, with clean errors.

    body = ClientBody(request.content, limit=limits.max_request_body_bytes,
                      idle_timeout_s=limits.body_timeout_s)
    async for chunk in body: ...          # or await body.read(n), await body.readany()

A body of declared length over the limit is refused before anything is read (413 in the
server). A chunked body has no declared length, so the limit is enforced here, as bytes arrive:
past it, reading raises `RequestBodyTooLarge` (413). A body the client breaks off, or whose
chunked framing turns out malformed after the head was accepted, raises `RequestRejected`
(400); one that stops arriving for `idle_timeout_s` raises `RequestTimeout` (408). In each case
the origin connection that was being fed is dropped mid-body, so the origin never sees a
complete request the client did not send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import StreamReader
from aiohttp.web_protocol import RequestPayloadError

from edgelab.errors import RequestBodyTooLarge, RequestRejected, RequestTimeout

CHUNK_BYTES = 64 * 1024


class ContinueWriter(Protocol):
    """Where `100 Continue` is written: the client connection (edge/protocol.py)."""

    async def write(self, data: bytes) -> None: ...


class ClientBody:
    """A `StreamReader`-like view of the client's body (`read`, `readany`, async iteration)."""

    def __init__(
        self,
        stream: StreamReader,
        limit: int,
        idle_timeout_s: float = 30.0,
        continue_writer: ContinueWriter | None = None,
    ) -> None:
        self._stream = stream
        self.limit = limit
        self._continue = continue_writer
        """Set when the client sent `Expect: 100-continue` and waits for `100 Continue` before
        its body: written on the first read, so a request a stage rejects first never gets it."""
        self.idle_timeout_s = idle_timeout_s
        """A read that waits longer than this for the client raises `RequestTimeout` (408)."""
        self.received = 0
        """Bytes read so far."""

    def _count(self, chunk: bytes) -> bytes:
        self.received += len(chunk)
        if self.received > self.limit:
            raise RequestBodyTooLarge(f"request body over {self.limit} bytes")
        return chunk

    async def _send_continue(self) -> None:
        writer, self._continue = self._continue, None
        if writer is not None:
            await writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    async def read(self, n: int = -1) -> bytes:
        if self._continue is not None:
            await self._send_continue()
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                return self._count(await self._stream.read(n))
        except TimeoutError as e:
            raise self._stalled() from e
        except (RequestPayloadError, ConnectionError) as e:
            raise RequestRejected(f"request body malformed or cut off: {e}") from e

    async def readany(self) -> bytes:
        if self._continue is not None:
            await self._send_continue()
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                return self._count(await self._stream.readany())
        except TimeoutError as e:
            raise self._stalled() from e
        except (RequestPayloadError, ConnectionError) as e:
            raise RequestRejected(f"request body malformed or cut off: {e}") from e

    def _stalled(self) -> RequestTimeout:
        # Mark the body finished: the server then closes right after the 408 instead of
        # lingering to read (for up to 10 s more) what this client is not sending.
        self._stream.feed_eof()
        return RequestTimeout(f"no request body bytes for {self.idle_timeout_s:g} s")

    def at_eof(self) -> bool:
        return self._stream.at_eof()

    async def iter_chunked(self, n: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        while chunk := await self.read(n):
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.readany():
            yield chunk
