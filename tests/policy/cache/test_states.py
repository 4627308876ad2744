from __future__ import annotations

import pytest

from edgelab.policy.cache.directives import NONE, Directives, parse_cache_control
from edgelab.policy.cache.freshness import Freshness, FreshnessOptions
from edgelab.policy.cache.states import (
    Decision,
    Fresh,
    Miss,
    NotStorable,
    OnlyIfCached,
    Revalidate,
    Stale,
    Store,
    after_response,
    lookup,
    on_error,
)
from tests.policy.cache.helpers import T0, headers, stored


def req(cc: str) -> Directives:
    return parse_cache_control([cc]) if cc else NONE


# (stored response or None, request Cache-Control, vary miss) -> decision
LOOKUPS: list[tuple[Freshness | None, str, bool, Decision]] = [
    (None, "", False, Miss("uri-miss")),
    (None, "", True, Miss("vary-miss")),
    (None, "only-if-cached", False, OnlyIfCached()),
    (stored(60, age_s=10), "", False, Fresh(10, 50)),
    (stored(60, age_s=60), "", False, Revalidate("stale")),
    (stored(60, age_s=10), "no-cache", False, Revalidate("request")),
    (stored(60, age_s=10), "max-age=5", False, Revalidate("request")),
    (stored(60, age_s=10), "max-age=10", False, Fresh(10, 50)),
    (stored(60, age_s=10), "min-fresh=55", False, Revalidate("request")),
    (stored(60, age_s=10), "min-fresh=50", False, Fresh(10, 50)),
    (stored(60, age_s=10, no_cache=True), "", False, Revalidate("stale")),
    # max-stale
    (stored(60, age_s=70), "max-stale=10", False, Stale(70, -10, "max-stale")),
    (stored(60, age_s=71), "max-stale=10", False, Revalidate("stale")),
    (stored(60, age_s=999), "max-stale", False, Stale(999, -939, "max-stale")),
    (stored(60, age_s=70, no_stale=True), "max-stale=10", False, Revalidate("stale")),
    (stored(60, age_s=70, no_max_stale=True), "max-stale=10", False, Revalidate("stale")),
    # stale-while-revalidate (origin's or configured default, folded into the stored freshness)
    (stored(60, age_s=70, swr_s=30), "", False, Stale(70, -10, "stale-while-revalidate", True)),
    (stored(60, age_s=91, swr_s=30), "", False, Revalidate("stale")),
    (stored(60, age_s=70, swr_s=30, no_stale=True), "", False, Revalidate("stale")),
    (
        stored(60, age_s=70, swr_s=30, no_max_stale=True),
        "",
        False,
        Stale(70, -10, "stale-while-revalidate", True),
    ),
    (stored(60, age_s=70, swr_s=30), "no-cache", False, Revalidate("request")),
    # only-if-cached never forwards
    (stored(60, age_s=10), "only-if-cached", False, Fresh(10, 50)),
    (stored(60, age_s=70), "only-if-cached", False, OnlyIfCached()),
    (stored(60, age_s=70), "only-if-cached, max-stale=20", False, Fresh(70, -10)),
]


@pytest.mark.parametrize(("entry", "cc", "vary_miss", "expected"), LOOKUPS)
def test_lookup(entry: Freshness | None, cc: str, vary_miss: bool, expected: Decision) -> None:
    assert lookup(entry, req(cc), T0, vary_miss=vary_miss) == expected


ERRORS: list[tuple[Freshness | None, Stale | None]] = [
    (None, None),
    (stored(60, age_s=10), Stale(10, 50, "stale-if-error")),
    (stored(60, age_s=100, sie_s=50), Stale(100, -40, "stale-if-error")),
    (stored(60, age_s=111, sie_s=50), None),
    (stored(60, age_s=100), None),
    (stored(60, age_s=100, sie_s=50, no_stale=True), None),
    (stored(60, age_s=100, sie_s=50, no_max_stale=True), Stale(100, -40, "stale-if-error")),
]


@pytest.mark.parametrize(("entry", "expected"), ERRORS)
def test_on_error(entry: Freshness | None, expected: Stale | None) -> None:
    assert on_error(entry, T0) == expected


@pytest.mark.parametrize(
    ("cc", "etag", "sie", "expected"),
    [
        ("max-age=60", False, 0, "store"),
        ("private", False, 0, "private"),
        ("max-age=0", False, 0, "no-lifetime"),  # never fresh, no validator: useless
        ("max-age=0", True, 0, "store"),  # can be revalidated
        ("max-age=0", False, 60, "store"),  # can stand in on errors
        ("max-age=0, stale-while-revalidate=9", False, 0, "store"),
    ],
)
def test_after_response(cc: str, etag: bool, sie: float, expected: str) -> None:
    h = headers(Cache_Control=cc)
    if etag:
        h["ETag"] = '"x"'
    result = after_response(
        method="GET",
        status=200,
        request_cc=NONE,
        response_cc=parse_cache_control([cc]),
        headers=h,
        has_authorization=False,
        set_cookie="bypass",
        request_time=T0,
        response_time=T0,
        options=FreshnessOptions(default_stale_if_error_s=sie),
    )
    if expected == "store":
        assert isinstance(result, Store)
    else:
        assert result == NotStorable(expected)


def test_configured_defaults_apply_where_the_origin_said_nothing() -> None:
    assert lookup(stored(60, age_s=70), NONE, T0, default_swr_s=30) == Stale(
        70, -10, "stale-while-revalidate", True
    )
    assert on_error(stored(60, age_s=100), T0, default_sie_s=50) == Stale(
        100, -40, "stale-if-error"
    )
    assert on_error(stored(60, age_s=100, sie_s=0), T0, default_sie_s=50) is None


def test_zero_windows_never_serve_stale_at_expiry() -> None:
    assert lookup(stored(60, age_s=60), NONE, T0) == Revalidate("stale")
    assert on_error(stored(60, age_s=60), T0) is None
