"""`bandwidth`: at most `rate` KB/s (1 KB = 1000 bytes); `rate` <= 0 means no limit.

    BandwidthToxic(rate=100)   # 100 000 bytes/s: big chunks go out 10 000 bytes every 100 ms

As toxiproxy's `toxics/bandwidth.go`: chunks larger than `rate * 100` bytes are cut into pieces
sent every 100 ms, and the remaining pace comes from an accumulated sleep that absorbs timer
error. An interrupt sends what is left of the current chunk at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgelab.faultproxy.stream import Chunk
from edgelab.faultproxy.toxics.base import ToxicStub

SLICE_S = 0.1
"""Pieces of a large chunk go out at this interval (100 ms, as in toxiproxy)."""


@dataclass(frozen=True)
class BandwidthToxic:
    rate: int = 0
    """KB per second (1000 bytes); <= 0 means unlimited."""

    async def pipe(self, stub: ToxicStub) -> None:
        loop = asyncio.get_running_loop()
        debt_s = 0.0
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            if self.rate <= 0:
                await stub.send(chunk)
                continue
            data = chunk.data
            debt_s += len(data) / (self.rate * 1000)
            piece = self.rate * 100
            try:
                while len(data) > piece:
                    await asyncio.sleep(SLICE_S)
                    head, data = data[:piece], data[piece:]
                    debt_s -= SLICE_S
                    await stub.send(Chunk(head, chunk.received_at))
                started = loop.time()
                if debt_s > 0:
                    await asyncio.sleep(debt_s)
                debt_s -= loop.time() - started
            except asyncio.CancelledError:
                stub.flush(Chunk(data, chunk.received_at))
                raise
            await stub.send(Chunk(data, chunk.received_at))
