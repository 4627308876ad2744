"""Forwarding headers on the way in, hop-by-hop removal and `Via` both ways.

The attack marker header and every end-to-end header pass untouched; `Host` becomes the
origin's, with the client's in `X-Forwarded-Host`. The origin's copy of the headers is built
only when a request goes to the origin (`Exchange.origin_headers`), not for cache hits.
"""

from __future__ import annotations

from multidict import CIMultiDict

from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.edge.headers import forward_request_headers, forward_response_headers


class HeadersStage:
    name = "headers"

    def __init__(self, pop: str) -> None:
        self.via = f"1.1 {pop} (edgelab)"
        self._build = self.upstream_headers
        """Bound once: the request hook only hands it to the Exchange."""

    def upstream_headers(self, req: ClientRequest) -> CIMultiDict[str]:
        """The origin request's headers for `req` (X-Forwarded-*, Via, hop-by-hop removed)."""
        return forward_request_headers(
            req.headers, client_ip=req.client_ip, proto=req.scheme, host=req.host, via=self.via
        )

    def request(self, ex: Exchange) -> None:
        # Built when a later stage needs them (`ex.origin_headers()`): a cache hit never does.
        ex.build_upstream_headers = self._build

    def response(self, ex: Exchange) -> None:
        resp = ex.response
        assert resp is not None
        if resp.stream is not None or ex.notes.get("from_origin"):
            resp.headers = forward_response_headers(resp.headers, via=self.via)
        elif not resp.has_header("Via"):  # (a stored response's fields stay joined)
            resp.set_header("Via", self.via)
