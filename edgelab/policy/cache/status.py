"""What the cache did, said on the response: `Cache-Status` (RFC 9211) and a short `X-Cache`.

    cache_status("pop-1", hit=True, ttl_s=41.7)                    # 'pop-1; hit; ttl=41'
    cache_status("pop-1", fwd="uri-miss", fwd_status=200, stored=True)
    # 'pop-1; fwd=uri-miss; fwd-status=200; stored'

X-Cache values: HIT (fresh from cache, also a collapsed request served the leader's response),
MISS (forwarded), STALE (served stale: while revalidating, on error, max-stale), REVALIDATED
(the origin answered 304 to our validators), BYPASS (not handled by the cache: method, disabled).
"""

from __future__ import annotations

import math

HIT, MISS, STALE, REVALIDATED, BYPASS = "HIT", "MISS", "STALE", "REVALIDATED", "BYPASS"


def cache_status(
    name: str,
    *,
    hit: bool = False,
    fwd: str | None = None,
    fwd_status: int | None = None,
    ttl_s: float | None = None,
    stored: bool | None = None,
    collapsed: bool | None = None,
    detail: str | None = None,
) -> str:
    """One Cache-Status member: the cache's name, then the parameters that apply (§2)."""
    parts = [name]
    if hit:
        parts.append("hit")
    if fwd is not None:
        parts.append(f"fwd={fwd}")
    if fwd_status is not None:
        parts.append(f"fwd-status={fwd_status}")
    if ttl_s is not None and math.isfinite(ttl_s):
        parts.append(f"ttl={math.floor(ttl_s) if ttl_s >= 0 else math.ceil(ttl_s)}")
    if stored is not None:
        parts.append("stored" if stored else "stored=?0")
    if collapsed is not None:
        parts.append("collapsed" if collapsed else "collapsed=?0")
    if detail:
        parts.append(f"detail={detail}")
    return "; ".join(parts)
