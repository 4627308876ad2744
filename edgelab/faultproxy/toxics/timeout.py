"""`timeout`: drops all data; closes `timeout` ms after it started, or never when 0.

    TimeoutToxic(timeout=0)      # a black hole: nothing passes until the toxic is removed
    TimeoutToxic(timeout=5000)   # nothing passes, and the connection closes after 5 s

The timer restarts whenever the toxic is re-run on a link (an API change in its direction).
Removing a timeout toxic closes the connections it held (toxiproxy `toxics/timeout.go`
`Cleanup`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class TimeoutToxic:
    timeout: int = 0
    """Milliseconds until the connection is closed; 0 = hold it open forever."""

    async def pipe(self, stub: ToxicStub) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout / 1000 if self.timeout > 0 else None
        try:
            async with asyncio.timeout_at(deadline):
                while (await stub.recv()) is not None:
                    pass  # dropped on the floor: that is the fault
        except TimeoutError:
            pass
        await stub.close()

    async def cleanup(self, stub: ToxicStub) -> None:
        """Removed from a live link: the connection it held is closed."""
        await stub.close()
