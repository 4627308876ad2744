"""`packet_loss`: drops each chunk with probability `loss_rate`, optionally in bursts.

    PacketLossToxic(loss_rate=0.2, correlation=0.5)

Newer Toxiproxy releases have this toxic (PR 739); over TCP a dropped chunk is data the
receiver never sees, so the stream is corrupted or stalls, which is the point. With probability
`correlation` a chunk shares the previous chunk's fate, otherwise it draws afresh: losses come
in bursts as it approaches 1 while the long-run loss stays `loss_rate` (netem's blend of draws
would lower it). Draws come from the connection's seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class PacketLossToxic:
    loss_rate: float = 0.1
    """Probability, 0.0-1.0, that a chunk is dropped."""
    correlation: float = 0.0
    """0.0-1.0: how much each draw leans on the previous one (bursty loss)."""

    async def pipe(self, stub: ToxicStub) -> None:
        rng = stub.rng
        dropped = rng.random() < self.loss_rate
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            if rng.random() >= self.correlation:
                dropped = rng.random() < self.loss_rate
            if not dropped:
                await stub.send(chunk)
