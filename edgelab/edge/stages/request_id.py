"""Gives every request a ray id (`<16 hex>-<pop>`) before anything else can fail.

The id is on every response (even a 500 from a stage that panicked) and in every log line, so a
user's error page can be matched to the POP's log.
"""

from __future__ import annotations

import random

from edgelab.edge.exchange import Exchange

_BATCH = 256
"""Ids drawn from the generator at a time: one call and one hex conversion per batch."""


class RequestIdStage:
    name = "request_id"

    def __init__(self, header: str) -> None:
        self.header = header
        self._rng = random.Random(random.SystemRandom().getrandbits(64))
        """Ids need to be unique, not secret: seeded once from the OS, no syscall per request."""
        self._digits = ""
        """Hex digits drawn ahead, 16 per id (formatted in C, a batch at a time)."""
        self._next = 0

    def request(self, ex: Exchange) -> None:
        at = self._next
        if at >= len(self._digits):
            self._digits = self._rng.getrandbits(64 * _BATCH).to_bytes(8 * _BATCH, "little").hex()
            at = 0
        self._next = at + 16
        ex.ray_id = f"{self._digits[at : at + 16]}-{ex.pop}"

    def response(self, ex: Exchange) -> None:
        assert ex.response is not None
        ex.response.set_header(self.header, ex.ray_id)
