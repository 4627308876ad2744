"""`limit_data`: lets `bytes` bytes through on a connection (per direction), then closes it.

    LimitDataToxic(bytes=1000)   # the chunk crossing the limit is cut; then the link closes

The count survives updates of the toxic (its state lives on the link), as toxiproxy's
`toxics/limit_data.go` `LimitDataToxicState`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgelab.faultproxy.toxics.base import ToxicStub


@dataclass
class LimitDataState:
    transmitted: int = 0
    """Bytes already passed on this link."""


@dataclass(frozen=True)
class LimitDataToxic:
    bytes: int = 0
    """Bytes allowed through before the connection closes."""

    def new_state(self) -> LimitDataState:
        return LimitDataState()

    async def pipe(self, stub: ToxicStub) -> None:
        state = stub.state
        assert isinstance(state, LimitDataState)
        while True:
            chunk = await stub.recv()
            if chunk is None:
                await stub.close()
                return
            remaining = max(self.bytes - state.transmitted, 0)
            if remaining < len(chunk.data):
                chunk = replace(chunk, data=chunk.data[:remaining])
            if chunk.data:
                state.transmitted += len(chunk.data)  # counted first: a cancelled send still sends
                await stub.send(chunk)
            if self.bytes - state.transmitted <= 0:
                await stub.close()
                return
