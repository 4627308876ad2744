"""`noop`: passes every chunk unchanged; the hidden first stage of every link.

NoopToxic()   # also what runs when a toxic's toxicity roll says "not this connection"
"""

from __future__ import annotations

from dataclasses import dataclass

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass(frozen=True)
class NoopToxic:
    """Pass-through (toxiproxy `toxics/noop.go`)."""

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            await stub.send(chunk)
