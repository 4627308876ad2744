"""What flows through a link: chunks of bytes with their read time, in one of two directions.

    q = ChunkQueue(maxsize=4)
    q.put_nowait(Chunk(b"hello", received_at=loop.time()))
    q.force_put(None)            # end of stream, even when the queue is full

`Direction.upstream` is client -> server (the request path), `Direction.downstream` is
server -> client, as in Toxiproxy's `stream/direction.go`. `None` in a queue marks the end of
the stream, as a closed channel does in Toxiproxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    """Which way bytes flow through a proxy."""

    upstream = "upstream"
    """Client -> upstream server (the request path)."""
    downstream = "downstream"
    """Upstream server -> client (the response path)."""

    @classmethod
    def parse(cls, text: str) -> Direction | None:
        """`upstream` or `downstream`, case-insensitively (as Toxiproxy parses it); else None."""
        try:
            return cls(text.lower())
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from one socket in one read."""

    data: bytes
    """The payload (never empty when read from a socket; toxics may cut it)."""
    received_at: float
    """Event-loop time (`loop.time()`, seconds) when it was read; latency counts from here."""


class ChunkQueue(asyncio.Queue[Chunk | None]):
    """An asyncio.Queue of chunks with two additions the link needs.

    `force_put` appends even past `maxsize`: a toxic that is interrupted must hand over the
    chunk it holds without waiting, so no byte is dropped (toxiproxy's "Don't drop any data on
    the floor"). `on_space`, when set, is called once the next time an item is taken out: the
    socket reader uses it to resume reading after it paused for backpressure.
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.on_space: Callable[[], None] | None = None
        """Called (then cleared) when an item is taken; set by a paused reader."""
        self.direct: Callable[[Chunk], bool] | None = None
        """The consumer's shortcut: called with a chunk put into the empty queue; when it
        returns True the chunk was handled at once and is not queued (the link's writer uses
        this to write straight to the socket while it is idle, saving a task switch)."""

    def put_nowait(self, item: Chunk | None) -> None:
        direct = self.direct
        if direct is not None and item is not None and not self._queue and direct(item):  # type: ignore[attr-defined]
            return
        super().put_nowait(item)

    def _get(self) -> Chunk | None:
        item = super()._get()
        if self.on_space is not None:
            callback, self.on_space = self.on_space, None
            callback()
        return item

    def force_put(self, item: Chunk | None) -> None:
        """Append `item` now, past `maxsize` if need be (a full queue has no waiting getter)."""
        if self.full():
            self._put(item)
        else:
            self.put_nowait(item)
