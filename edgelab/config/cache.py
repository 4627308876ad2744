"""The edge cache's configuration: the `cache` section of `EdgeConfig`. Every default explained.

    cache:
      max_bytes: 268435456
      stale_if_error_s: 3600           # serve-stale: answer from cache when the origin or a module fails
      stale_while_revalidate_s: 30
      key: {ignore_query: false, headers: [X-Device]}

The two `stale_*_s` fields are defaults for responses whose origin says nothing about
stale-while-revalidate / stale-if-error (RFC 5861). Both are 0 by default: a plain RFC 9111
cache. The `serve-stale` bypass variant turns them on (`SERVE_STALE`), and with
`stale_if_error_s > 0` a module that fails inside the edge (a panicking bot module's 500) is
answered from cache as well (see `edgelab/edge/stages/cache.py`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheKeyOptions(_Strict):
    """What makes two requests the same cache object (before `Vary` is applied)."""

    include_host: bool = True
    """Key on the `Host` the client asked for; off = one object per path for every host."""
    ignore_query: bool = False
    """Drop the query string from the key (`/app.js?v=1` and `/app.js?v=2` share an object)."""
    sort_query: bool = False
    """Sort query parameters, so `?a=1&b=2` and `?b=2&a=1` share an object."""
    headers: tuple[str, ...] = ()
    """Request headers whose values join the key (a device class, a country), as CDNs allow."""


class CacheConfig(_Strict):
    """The edge's shared HTTP cache (RFC 9111), with RFC 5861 serve-stale and purge."""

    enabled: bool = True
    """Off = every request goes to the origin (`X-Cache: BYPASS`)."""
    max_bytes: int = Field(256 * 1024 * 1024, ge=0)
    """Bytes of stored bodies and headers at most; least recently used objects go first."""
    max_object_bytes: int = Field(8 * 1024 * 1024, ge=0)
    """A response larger than this streams through to the client and is not stored."""
    targeted_field: str = "Edgelab-CDN-Cache-Control"
    """This CDN's own targeted cache-control field (RFC 9213, like `Cloudflare-CDN-Cache-Control`).
    Checked first, then `CDN-Cache-Control`; the first present overrides `Cache-Control` and
    `Expires` for this cache."""
    set_cookie: Literal["bypass", "strip", "store"] = "bypass"
    """A response with `Set-Cookie`: `bypass` = not stored (the CDN default), `strip` = stored
    without the cookie (the client that caused the fetch still gets it), `store` = stored as is
    (hands one user's cookie to everyone: only for sites that set no per-user cookies)."""
    heuristic_fraction: float = Field(0.1, ge=0, le=1)
    """Heuristic freshness = this fraction of the time since `Last-Modified` (RFC 9111 §4.2.2)."""
    heuristic_max_s: float = Field(86400.0, ge=0)
    """Cap on a heuristic freshness lifetime."""
    stale_while_revalidate_s: float = Field(0.0, ge=0)
    """Default stale-while-revalidate window where the origin sets none (0 = off)."""
    stale_if_error_s: float = Field(0.0, ge=0)
    """Default stale-if-error window where the origin sets none (0 = off). When > 0 it also
    covers failures inside the edge (a module answering 500), not only origin errors."""
    key: CacheKeyOptions = CacheKeyOptions()
    coalesce: bool = True
    """Concurrent misses for one object send one request to the origin; the rest wait for it."""
    coalesce_wait_s: float = Field(10.0, gt=0)
    """A waiting request goes to the origin itself after this long (the first one is stuck)."""
    hit_for_pass_s: float = Field(10.0, ge=0)
    """After an uncacheable answer, misses for that object skip coalescing this long, so they
    do not queue behind each other for something that will never be stored."""


SERVE_STALE: dict[str, float] = {"stale_while_revalidate_s": 60.0, "stale_if_error_s": 86400.0}
"""The `cache` overrides of the serve-stale bypass variant (lab seconds)."""
