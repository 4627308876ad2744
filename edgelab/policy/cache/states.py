"""The cache's decisions as states (hishel's `_spec.py` shape), pure and clock-free.

    decision = lookup(stored_freshness_or_None, request_directives, now)
    match decision:
        case Fresh():        serve the stored response (X-Cache: HIT)
        case Stale():        serve it stale; `refresh` -> revalidate in the background
        case Revalidate():   forward with the stored validators (§4.3.1)
        case Miss():         forward; then `after_response` -> Store | NotStorable
        case OnlyIfCached(): 504 (§5.2.1.7)
    on_error(stored_freshness, now)  -> Stale("stale-if-error") | None   (RFC 5861 §4)

Request directives (§5.2.1): max-age, min-fresh, max-stale, no-cache, only-if-cached. Response
must-revalidate / proxy-revalidate forbid every stale use (§4.2.4); s-maxage forbids a client's
max-stale (§5.2.2.10) but not the stale-* windows (see `Freshness.no_max_stale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from edgelab.policy.cache.directives import Directives
from edgelab.policy.cache.freshness import Freshness, FreshnessOptions, freshness
from edgelab.policy.cache.storable import storability


@dataclass(frozen=True, slots=True)
class Fresh:
    age_s: float
    ttl_s: float


@dataclass(frozen=True, slots=True)
class Stale:
    age_s: float
    ttl_s: float
    reason: Literal["stale-while-revalidate", "max-stale", "stale-if-error"]
    refresh: bool = False
    """Revalidate in the background (stale-while-revalidate, RFC 5861 §3)."""


@dataclass(frozen=True, slots=True)
class Revalidate:
    fwd: Literal["stale", "request"]
    """Why it is forwarded, as RFC 9211 `fwd` says it: the stored response is stale, or the
    request's directives (no-cache, max-age, min-fresh) ask for a validated one."""


@dataclass(frozen=True, slots=True)
class Miss:
    fwd: Literal["uri-miss", "vary-miss"]


@dataclass(frozen=True, slots=True)
class OnlyIfCached:
    """only-if-cached and nothing usable is stored: 504 (§5.2.1.7)."""


Decision = Fresh | Stale | Revalidate | Miss | OnlyIfCached


def lookup(
    stored: Freshness | None,
    req: Directives,
    now: float,
    *,
    vary_miss: bool = False,
    default_swr_s: float = 0.0,
) -> Decision:
    """What to do with a request, given the stored response that matches it (or None).

    `default_swr_s` is the configured stale-while-revalidate for responses without one.
    """
    if stored is None:
        if req.only_if_cached:
            return OnlyIfCached()
        return Miss("vary-miss" if vary_miss else "uri-miss")
    age = stored.age(now)
    ttl = stored.lifetime_s - age
    if req.only_if_cached:
        # §5.2.1.7: a stored response or 504, never the origin; staleness rules still hold.
        if ttl > 0 or (
            req.max_stale_s is not None and not stored.no_max_stale and -ttl <= req.max_stale_s
        ):
            return Fresh(age, ttl)
        return OnlyIfCached()
    if req.no_cache or (req.max_age_s is not None and age > req.max_age_s):
        return Revalidate("request")
    if stored.no_cache:
        return Revalidate("stale")
    if ttl > 0:
        if req.min_fresh_s is not None and ttl < req.min_fresh_s:
            return Revalidate("request")
        return Fresh(age, ttl)
    staleness = -ttl
    if req.max_stale_s is not None and not stored.no_max_stale and staleness <= req.max_stale_s:
        return Stale(age, ttl, "max-stale")
    swr = stored.swr_s(default_swr_s)
    if not stored.no_stale and swr > 0 and staleness <= swr:
        return Stale(age, ttl, "stale-while-revalidate", refresh=True)
    return Revalidate("stale")


def on_error(stored: Freshness | None, now: float, default_sie_s: float = 0.0) -> Stale | None:
    """The origin (or a module inside the edge) failed: may the stored response stand in?

    Yes while it is fresh, or stale by no more than its stale-if-error window (the origin's, or
    the configured default); never with must-revalidate / proxy-revalidate.
    """
    if stored is None or stored.no_stale:
        return None
    age = stored.age(now)
    ttl = stored.lifetime_s - age
    sie = stored.sie_s(default_sie_s)
    if ttl > 0 or (sie > 0 and -ttl <= sie):
        return Stale(age, ttl, "stale-if-error")
    return None


@dataclass(frozen=True, slots=True)
class Store:
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class NotStorable:
    reason: str


def after_response(
    *,
    method: str,
    status: int,
    request_cc: Directives,
    response_cc: Directives,
    headers: Mapping[str, str],
    has_authorization: bool,
    set_cookie: Literal["bypass", "strip", "store"],
    request_time: float,
    response_time: float,
    options: FreshnessOptions,
) -> Store | NotStorable:
    """A response arrived from the origin: store it (with its freshness) or say why not."""
    verdict = storability(
        method=method,
        status=status,
        request_cc=request_cc,
        response_cc=response_cc,
        headers=headers,
        has_authorization=has_authorization,
        set_cookie=set_cookie,
    )
    if not verdict.ok:
        return NotStorable(verdict.reason)
    fresh = freshness(
        response_cc,
        headers,
        status=status,
        request_time=request_time,
        response_time=response_time,
        options=options,
    )
    if (
        fresh.lifetime_s <= 0
        and fresh.sie_s(options.default_stale_if_error_s) <= 0
        and fresh.swr_s(options.default_stale_while_revalidate_s) <= 0
        and "ETag" not in headers
        and "Last-Modified" not in headers
    ):
        # Storable, but useless: never fresh, nothing to revalidate with, no error window.
        return NotStorable("no-lifetime")
    return Store(fresh)
