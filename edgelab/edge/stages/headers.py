"""Forwarding headers on the way in, hop-by-hop removal and `Via` both ways.

The attack marker header and every end-to-end header pass untouched; `Host` becomes the
origin's, with the client's in `X-Forwarded-Host`.
"""

from __future__ import annotations

from edgelab.edge.exchange import Exchange
from edgelab.edge.headers import forward_request_headers, forward_response_headers


class HeadersStage:
    name = "headers"

    def __init__(self, pop: str) -> None:
        self.via = f"1.1 {pop} (edgelab)"

    async def request(self, ex: Exchange) -> None:
        req = ex.request
        ex.upstream_headers = forward_request_headers(
            req.headers, client_ip=req.client_ip, proto=req.scheme, host=req.host, via=self.via
        )

    async def response(self, ex: Exchange) -> None:
        assert ex.response is not None
        if ex.response.stream is not None or ex.notes.get("from_origin"):
            ex.response.headers = forward_response_headers(ex.response.headers, via=self.via)
        elif "Via" not in ex.response.headers:
            ex.response.headers["Via"] = self.via
