"""CDN-style error pages: a small body naming the status, the POP and the ray id.

ex.response = error_response(502, "origin unreachable", ex)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from multidict import CIMultiDict

from edgelab.edge.exchange import EdgeResponse

if TYPE_CHECKING:
    from edgelab.edge.exchange import Exchange

_TITLES = {
    400: "Bad request",
    403: "Access denied",
    413: "Request too large",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def error_page(status: int, reason: str, pop: str, ray_id: str) -> bytes:
    title = _TITLES.get(status, "Error")
    return (
        f"<!doctype html><html><head><title>{status} {title}</title></head><body>"
        f"<h1>Error {status}: {title}</h1><p>{reason}</p>"
        f"<p>edgelab POP <b>{pop}</b> &middot; ray id <code>{ray_id}</code></p></body></html>\n"
    ).encode()


def error_response(status: int, reason: str, ex: Exchange) -> EdgeResponse:
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Content-Type"] = "text/html; charset=utf-8"
    headers["Cache-Control"] = "no-store"
    return EdgeResponse(
        status=status, headers=headers, body=error_page(status, reason, ex.pop, ex.ray_id)
    )
