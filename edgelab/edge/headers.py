"""Proxy header rules (RFC 9110 §7.6): hop-by-hop removal, forwarding headers, Via. Pure.

upstream = forward_request_headers(client_headers, client_ip="203.0.113.9", proto="http",
                                   host="www.example", via="1.1 pop-1 (edgelab)")
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)
"""Headers meant for one connection only; a proxy never forwards them."""


def connection_listed(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """Lower-cased field names that `Connection` marks as hop-by-hop for this message."""
    names: set[str] = set()
    for value in headers.getall("Connection", []):
        names.update(token.strip().lower() for token in value.split(",") if token.strip())
    return names


def strip_hop_by_hop(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], keep: Iterable[str] = ()
) -> CIMultiDict[str]:
    """A copy without hop-by-hop headers, including those named in `Connection`."""
    out = CIMultiDict(headers)  # a C-level copy; then remove the few present (the hot path)
    drop = HOP_BY_HOP | connection_listed(headers) if "Connection" in headers else HOP_BY_HOP
    if keep:
        drop = drop - {k.lower() for k in keep}
    for name in drop:
        if name in out:
            del out[name]
    return out


def forward_request_headers(
    headers: CIMultiDictProxy[str] | CIMultiDict[str],
    *,
    client_ip: str,
    proto: str,
    host: str,
    via: str,
) -> CIMultiDict[str]:
    """Client headers as the origin should see them (X-Forwarded-*, Via appended)."""
    out = strip_hop_by_hop(headers)
    prior = out.get("X-Forwarded-For")
    out["X-Forwarded-For"] = f"{prior}, {client_ip}" if prior else client_ip
    out["X-Forwarded-Proto"] = proto
    if host:
        out["X-Forwarded-Host"] = host
    out.popall("Host", None)
    # The body's framing is re-decided for the origin connection (Content-Length or chunked),
    # from what the client connection's parser established, never from a header we copied.
    out.popall("Content-Length", None)
    if out.get("Expect", "").lower() == "100-continue":
        del out["Expect"]  # the edge answers it itself, once a stage reads the body
    prior_via = out.get("Via")
    out["Via"] = f"{prior_via}, {via}" if prior_via else via
    return out


def forward_response_headers(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], *, via: str
) -> CIMultiDict[str]:
    """Origin headers as the client should see them (hop-by-hop removed, Via appended)."""
    out = strip_hop_by_hop(headers)
    prior_via = out.get("Via")
    out["Via"] = f"{prior_via}, {via}" if prior_via else via
    return out
