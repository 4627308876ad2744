"""Factories for the cache policy tables: headers and stored-response freshness."""

from __future__ import annotations

from email.utils import formatdate

from multidict import CIMultiDict

from edgelab.policy.cache.freshness import Freshness

T0 = 1_700_000_000.0
"""A fixed wall clock for every table (epoch seconds)."""


def headers(*pairs: tuple[str, str], **fields: str) -> CIMultiDict[str]:
    """`headers(("Cache-Control", "a"), ("Cache-Control", "b"), ETag='"x"')`."""
    h: CIMultiDict[str] = CIMultiDict(pairs)
    for name, value in fields.items():
        h.add(name.replace("_", "-"), value)
    return h


def stored(
    lifetime_s: float = 60,
    age_s: float = 0,
    swr_s: float | None = None,
    sie_s: float | None = None,
    no_stale: bool = False,
    no_max_stale: bool = False,
    no_cache: bool = False,
) -> Freshness:
    """A stored response that is `age_s` old at T0."""
    return Freshness(
        lifetime_s=lifetime_s,
        initial_age_s=0.0,
        response_time=T0 - age_s,
        stale_while_revalidate_s=swr_s,
        stale_if_error_s=sie_s,
        no_stale=no_stale,
        no_max_stale=no_max_stale or no_stale,
        no_cache=no_cache,
    )


def date(ts: float) -> str:
    """An HTTP-date for epoch seconds `ts`."""
    return formatdate(ts, usegmt=True)
