"""Gives every request a ray id (`<16 hex>-<pop>`) before anything else can fail.

The id is on every response (even a 500 from a stage that panicked) and in every log line, so a
user's error page can be matched to the POP's log.
"""

from __future__ import annotations

import random

from edgelab.edge.exchange import Exchange


class RequestIdStage:
    name = "request_id"

    def __init__(self, header: str) -> None:
        self.header = header
        self._rng = random.Random(random.SystemRandom().getrandbits(64))
        """Ids need to be unique, not secret: seeded once from the OS, no syscall per request."""

    def request(self, ex: Exchange) -> None:
        # 16 hex digits, formatted in C (randbytes(8) is these bytes, by a Python-level call)
        ex.ray_id = f"{self._rng.getrandbits(64).to_bytes(8, 'little').hex()}-{ex.pop}"

    def response(self, ex: Exchange) -> None:
        assert ex.response is not None
        ex.response.set_header(self.header, ex.ray_id)
