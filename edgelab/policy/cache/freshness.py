"""Freshness and age (RFC 9111 §4.2), decided once when a response is stored.

    f = freshness(directives, headers, status=200, request_time=t0, response_time=t1,
                  options=FreshnessOptions())
    f.age(now), f.ttl(now), f.fresh(now)

`freshness()` does the header work once (dates, lifetime, corrected initial age), so a hit only
does `initial_age_s + (now - response_time)` and a compare. The clock is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime

from edgelab.policy.cache.directives import Directives

HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
"""Heuristically cacheable status codes (RFC 9110 §15.1)."""


@dataclass(frozen=True, slots=True)
class FreshnessOptions:
    """This cache's own settings that freshness depends on (`CacheConfig` carries them)."""

    heuristic_fraction: float = 0.1
    """Heuristic lifetime = this fraction of (Date - Last-Modified), §4.2.2's suggestion."""
    heuristic_max_s: float = 86400.0
    default_stale_while_revalidate_s: float = 0.0
    """Applied when the response has no stale-while-revalidate (RFC 5861 §3). Used when
    deciding, not stored, so switching serve-stale on covers objects already in the cache."""
    default_stale_if_error_s: float = 0.0
    """Applied when the response has no stale-if-error (RFC 5861 §4); likewise."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """What a stored response's headers say about its freshness, with the clock factored out."""

    lifetime_s: float
    """Freshness lifetime (§4.2.1), or the heuristic one (§4.2.2)."""
    initial_age_s: float
    """corrected_initial_age of §4.2.3: the age it had when it arrived."""
    response_time: float
    """Wall-clock time the response arrived (or was last validated)."""
    stale_while_revalidate_s: float | None = None
    """The origin's window; None = it said nothing (the configured default applies)."""
    stale_if_error_s: float | None = None
    no_stale: bool = False
    """must-revalidate / proxy-revalidate: never served stale (§4.2.4), not even on errors."""
    no_max_stale: bool = False
    """Also s-maxage (which implies proxy-revalidate for a shared cache, §5.2.2.10): a client's
    max-stale cannot get it stale. The configured stale-* windows still can: the operator's
    explicit choice, as CDNs serve stale s-maxage content."""
    no_cache: bool = False
    """Response `no-cache`: stored, but validated before every use (§5.2.2.4)."""
    heuristic: bool = False

    def age(self, now: float) -> float:
        """current_age (§4.2.3)."""
        return self.initial_age_s + max(0.0, now - self.response_time)

    def ttl(self, now: float) -> float:
        """Remaining freshness; negative = stale by that much."""
        return self.lifetime_s - self.age(now)

    def fresh(self, now: float) -> bool:
        return not self.no_cache and self.lifetime_s > self.age(now)

    def swr_s(self, default: float) -> float:
        w = self.stale_while_revalidate_s
        return default if w is None else w

    def sie_s(self, default: float) -> float:
        w = self.stale_if_error_s
        return default if w is None else w


def expired(f: Freshness, now: float) -> Freshness:
    """`f` made stale as of `now` (a soft purge): it must be revalidated before use, and its
    stale-* windows count from now, so serve-stale can still answer with it."""
    return replace(f, lifetime_s=min(f.lifetime_s, f.age(now)))


def http_date(value: str | None) -> float | None:
    """An HTTP-date (RFC 9110 §5.6.7) as epoch seconds; None when absent or invalid."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def initial_age(headers: Mapping[str, str], request_time: float, response_time: float) -> float:
    """corrected_initial_age (§4.2.3) from Date, Age and the request/response times."""
    date = http_date(headers.get("Date"))
    apparent_age = max(0.0, response_time - date) if date is not None else 0.0
    age_value = 0.0
    raw_age = headers.get("Age")
    if raw_age is not None:
        raw_age = raw_age.strip()
        age_value = float(raw_age) if raw_age.isdigit() else 0.0
    response_delay = max(0.0, response_time - request_time)
    return max(apparent_age, age_value + response_delay)


def lifetime(
    cc: Directives, headers: Mapping[str, str], status: int, options: FreshnessOptions
) -> tuple[float, bool]:
    """(freshness lifetime, heuristic?) for a shared cache (§4.2.1, §4.2.2).

    s-maxage over max-age over Expires - Date; else 10% of (Date - Last-Modified), capped, only
    for heuristically cacheable statuses or `public` responses. A targeted field ignores Expires
    (RFC 9213 §2.2).
    """
    if cc.s_maxage_s is not None:
        return float(cc.s_maxage_s), False
    if cc.max_age_s is not None:
        return float(cc.max_age_s), False
    if not cc.targeted and "Expires" in headers:
        expires = http_date(headers.get("Expires"))
        if expires is None:
            return 0.0, False  # an invalid Expires means already expired (§5.3)
        date = http_date(headers.get("Date"))
        if date is None:
            return 0.0, False
        return max(0.0, expires - date), False
    if status in HEURISTIC_STATUSES or cc.public:
        last_modified = http_date(headers.get("Last-Modified"))
        date = http_date(headers.get("Date"))
        if last_modified is not None and date is not None and date > last_modified:
            return min(
                (date - last_modified) * options.heuristic_fraction, options.heuristic_max_s
            ), True
    return 0.0, False


def has_explicit_lifetime(cc: Directives, headers: Mapping[str, str]) -> bool:
    """max-age, s-maxage or (outside a targeted field) Expires: the origin stated a lifetime."""
    return (
        cc.s_maxage_s is not None
        or cc.max_age_s is not None
        or (not cc.targeted and "Expires" in headers)
    )


def freshness(
    cc: Directives,
    headers: Mapping[str, str],
    *,
    status: int,
    request_time: float,
    response_time: float,
    options: FreshnessOptions,
) -> Freshness:
    """Everything about a response's freshness that does not depend on when it is used."""
    life, heuristic = lifetime(cc, headers, status, options)
    swr = cc.stale_while_revalidate_s
    sie = cc.stale_if_error_s
    return Freshness(
        lifetime_s=life,
        initial_age_s=initial_age(headers, request_time, response_time),
        response_time=response_time,
        stale_while_revalidate_s=float(swr) if swr is not None else None,
        stale_if_error_s=float(sie) if sie is not None else None,
        no_stale=cc.must_revalidate or cc.proxy_revalidate,
        no_max_stale=cc.must_revalidate or cc.proxy_revalidate or cc.s_maxage_s is not None,
        no_cache=cc.no_cache,
        heuristic=heuristic,
    )
