"""`latency`: every chunk is released `latency` ms (± `jitter`) after it was read.

    LatencyToxic(latency=100, jitter=10)   # each chunk 90..110 ms late; order kept

The delay counts from the chunk's read time, so delays do not add up across chunks, and an
interrupt (an API change) releases the held chunk at once (toxiproxy `toxics/latency.go`).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import ClassVar

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class LatencyToxic:
    latency: int = 0
    """Added delay, milliseconds."""
    jitter: int = 0
    """Each chunk's delay varies uniformly in [-jitter, +jitter) milliseconds."""

    buffer_size: ClassVar[int] = 1024
    """Chunks keep being read (and timestamped) while earlier ones wait."""

    def delay_s(self, rng: random.Random) -> float:
        """This chunk's delay in seconds."""
        delay_ms = self.latency
        if self.jitter > 0:
            delay_ms += rng.randrange(-self.jitter, self.jitter)
        return delay_ms / 1000

    async def pipe(self, stub: ToxicStub) -> None:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            wait = chunk.received_at + self.delay_s(stub.rng) - loop.time()
            if wait > 0:
                try:
                    await asyncio.sleep(wait)
                except asyncio.CancelledError:
                    stub.flush(chunk)
                    raise
            await stub.send(chunk)
