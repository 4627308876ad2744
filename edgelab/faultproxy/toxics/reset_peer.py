"""`reset_peer`: on the first data (or end of stream), wait `timeout` ms, then reset (TCP RST).

    ResetPeerToxic(timeout=0)   # the client sees "connection reset by peer" when it sends

The chunk that triggers it is discarded. Idle connections are not reset until data arrives
(toxiproxy `toxics/reset_peer.go`). Unlike toxiproxy, SO_LINGER=0 is set only on connections
this toxic actually resets, so a toxicity roll of "no" never resets (toxiproxy issue #603).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class ResetPeerToxic:
    timeout: int = 0
    """Milliseconds between the first data and the reset; 0 = at once."""

    async def pipe(self, stub: ToxicStub) -> None:
        await stub.recv()
        if self.timeout > 0:
            await asyncio.sleep(self.timeout / 1000)
        await stub.close(reset=True)
