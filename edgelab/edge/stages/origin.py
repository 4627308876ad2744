"""The only stage that talks to the origin: forward the request, stream the answer back.

Unreachable or reset origin -> 502 page; timeout -> 504 page; `ex.error` says why, so outer
stages (serve-stale) can decide to answer from cache instead.
"""

from __future__ import annotations

import logging

from multidict import CIMultiDict

from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import EdgeResponse, Exchange
from edgelab.edge.upstream import Upstream
from edgelab.errors import UpstreamError

logger = logging.getLogger(__name__)


class OriginStage:
    name = "origin"

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def request(self, ex: Exchange) -> None:
        req = ex.request
        headers = ex.origin_headers()
        body = req.body if req.body is not None else (req.body_stream if req.has_body else None)
        length = len(req.body) if req.body is not None else req.content_length
        try:
            up = await self.upstream.fetch(req.method, req.target, headers, body, length)
        except UpstreamError as e:
            logger.info("origin error: %s", e, extra={"request_id": ex.ray_id, "stage": self.name})
            ex.error = e
            ex.verdict(self.name, "error", str(e))
            ex.response = error_response(e.status, "The origin could not be reached.", ex)
            return
        ex.path_taken = "origin"
        ex.notes["from_origin"] = True
        resp_headers = CIMultiDict(up.headers)
        whole = b"" if req.method == "HEAD" else up.complete_body()
        if whole is not None:
            # All there already (HEAD, 304, small bodies): the connection goes back to the pool
            # now, and the client gets headers and body in one write.
            await up.release()
            ex.response = EdgeResponse(status=up.status, headers=resp_headers, body=whole)
            return
        ex.response = EdgeResponse(
            status=up.status,
            headers=resp_headers,
            stream=up.chunks(),
            content_length=up.content_length,
            release=up.release,
        )

    async def response(self, ex: Exchange) -> None:
        return None
