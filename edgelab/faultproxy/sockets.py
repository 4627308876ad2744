"""One TCP socket of a proxied connection, as an asyncio Protocol: no stream layer in between.

    side = Side(loop)                  # protocol for loop.create_server / create_connection
    side.sink = link.input             # what it reads goes to this link's first stage
    side.write(b"..."); await side.drained()

Reading pauses while the sink is full and resumes when the sink's consumer takes a chunk
(`ChunkQueue.on_space`), so a slow toxic pushes back on the sender through TCP. End of input
(EOF or a lost connection) is `None` in the sink, once.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import cast

from edgelab.faultproxy.stream import Chunk, ChunkQueue

WRITE_HIGH_WATER = 1 << 20
"""Bytes a socket may buffer in user space before the writer waits for it to drain."""


class Side(asyncio.Protocol):
    """A client or upstream socket: reads into `sink`, writes with flow control."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.sink: ChunkQueue | None = None
        """Set before reading starts; until then the transport is paused (or data waits)."""
        self.received = 0
        """Bytes read from this socket."""
        self.on_made: Callable[[Side], None] | None = None
        self.on_lost: Callable[[Side], None] | None = None
        self.closing = False
        """True once the socket is closing or gone: writes are discarded."""
        self.lost = False
        """True once asyncio reported the connection lost."""
        self.write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._ended = False
        self._early: list[Chunk | None] = []

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same API.
        self.transport = cast(asyncio.Transport, transport)
        # A larger write buffer than asyncio's 64 KiB: one read (up to 256 KiB) fits without
        # pausing the writer on every chunk, which halves bulk throughput otherwise.
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not TCP
                pass
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self._push(Chunk(data, self.loop.time()))

    def eof_received(self) -> bool:
        self._end()
        return True  # keep the socket open for writing: the other direction may still flow

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.lost = True
        self._end()
        self._wake()
        if self.on_lost is not None:
            self.on_lost(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake()

    # -- reading ---------------------------------------------------------------------------

    def attach(self, sink: ChunkQueue) -> None:
        """Start feeding `sink` (with anything read before it was attached)."""
        self.sink = sink
        early, self._early = self._early, []
        for item in early:
            sink.force_put(item)
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def _push(self, chunk: Chunk) -> None:
        sink = self.sink
        if sink is None:
            # Not attached yet (the upstream dial is in progress): keep this read and stop.
            # Pausing in connection_made is not enough, uvloop starts reading after it.
            self._early.append(chunk)
            assert self.transport is not None
            self.transport.pause_reading()
            return
        if sink.full():
            sink.force_put(chunk)
            assert self.transport is not None
            self.transport.pause_reading()
            sink.on_space = self._resume
        else:
            sink.put_nowait(chunk)

    def _resume(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self.sink is None:
            self._early.append(None)
        else:
            self.sink.force_put(None)

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            self.transport.write(data)

    def writelines(self, data: list[bytes]) -> None:
        """Several chunks in one system call (writev) where the loop supports it."""
        if self.transport is not None and not self.closing:
            self.transport.writelines(data)

    async def drained(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        while self.write_paused and not self.closing:
            if self._drain is None or self._drain.done():
                self._drain = self.loop.create_future()
            await self._drain

    def _wake(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close after sending what is buffered (toxiproxy's `conn.Close()`)."""
        if self.transport is not None and not self.closing:
            self.closing = True
            self.transport.close()

    def abort(self, reset: bool = False) -> None:
        """Close now, dropping buffered data; with `reset`, send a TCP RST (SO_LINGER 0)."""
        if self.transport is None:
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:  # pragma: no cover - already closed
                    pass
        self.closing = True
        self.transport.abort()
