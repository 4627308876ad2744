"""`slow_close`: data passes unchanged; the close waits `delay` ms after the source ends.

SlowCloseToxic(delay=1000)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class SlowCloseToxic:
    delay: int = 0
    """Milliseconds between the source's end of stream and closing the destination."""

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is not None:
                await stub.send(chunk)
                continue
            try:
                await asyncio.sleep(self.delay / 1000)
            except asyncio.CancelledError:
                # Keep the end of stream for whatever runs next in this place (toxiproxy drops
                # it here, which leaves the link open forever after an API change).
                stub.input.force_put(None)
                raise
            await stub.close()
            return
