"""Gives every request a ray id (`<16 hex>-<pop>`) before anything else can fail.

The id is on every response (even a 500 from a stage that panicked) and in every log line, so a
user's error page can be matched to the POP's log.
"""

from __future__ import annotations

import os

from edgelab.edge.exchange import Exchange


class RequestIdStage:
    name = "request_id"

    def __init__(self, header: str) -> None:
        self.header = header

    async def request(self, ex: Exchange) -> None:
        ex.ray_id = f"{os.urandom(8).hex()}-{ex.pop}"

    async def response(self, ex: Exchange) -> None:
        assert ex.response is not None
        ex.response.headers[self.header] = ex.ray_id
