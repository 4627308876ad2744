"""`slicer`: cuts each chunk into pieces of about `average_size` bytes, `delay` µs apart.

    SlicerToxic(average_size=64, size_variation=16, delay=100)

A chunk is split near its midpoint (± up to `size_variation`) again and again until every
piece is at most `average_size + size_variation` bytes (toxiproxy `toxics/slicer.go`). Pieces
keep their order; an interrupt sends the rest of the chunk at once.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from edgelab.faultproxy.stream import Chunk
from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class SlicerToxic:
    average_size: int = 0
    """Target piece size, bytes; <= 0 passes chunks unchanged."""
    size_variation: int = 0
    """How far a split point may move from the middle, bytes (should be < average_size)."""
    delay: int = 0
    """Pause after each piece, **microseconds** (as in toxiproxy)."""

    def boundaries(self, size: int, rng: random.Random) -> list[int]:
        """Cut points of a `size`-byte chunk: [0, ..., size], pieces between neighbours."""
        if self.average_size <= 0 or size <= 0:
            return [0, size]
        cuts = [0]
        todo = [(0, size)]  # a stack of (start, end), left piece on top
        while todo:
            start, end = todo.pop()
            if (end - start) - self.average_size <= self.size_variation or end - start < 2:
                cuts.append(end)
                continue
            mid = start + (end - start) // 2
            if self.size_variation > 0:
                mid += rng.randrange(-self.size_variation, self.size_variation)
            mid = min(max(mid, start + 1), end - 1)
            todo.append((mid, end))
            todo.append((start, mid))
        return cuts

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            cuts = self.boundaries(len(chunk.data), stub.rng)
            sent = 0
            try:
                for end in cuts[1:]:
                    piece = Chunk(chunk.data[sent:end], chunk.received_at)
                    sent = end  # before sending: a cancelled send still hands the piece on
                    await stub.send(piece)
                    await asyncio.sleep(self.delay / 1_000_000)
            except asyncio.CancelledError:
                if sent < len(chunk.data):
                    stub.flush(Chunk(chunk.data[sent:], chunk.received_at))
                raise
