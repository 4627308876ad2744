from __future__ import annotations

import math

import pytest

from edgelab.policy.cache.directives import (
    Directives,
    parse_cache_control,
    request_directives,
    response_directives,
)
from tests.policy.cache.helpers import headers

TARGETED = ("Edgelab-CDN-Cache-Control", "CDN-Cache-Control")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["max-age=60"], Directives(max_age_s=60)),
        (
            ["public, max-age=60", "s-maxage=30"],
            Directives(max_age_s=60, s_maxage_s=30, public=True),
        ),
        (['max-age="60"'], Directives(max_age_s=60)),
        (["MAX-AGE=5, No-Store"], Directives(max_age_s=5, no_store=True)),
        (["max-age=abc"], Directives(max_age_s=0)),  # malformed: present, value 0 (§4.2.1)
        (["max-age=10, max-age=20"], Directives(max_age_s=10)),  # first one wins
        (["max-age=99999999999"], Directives(max_age_s=2**31)),
        (["no-cache"], Directives(no_cache=True)),
        (['no-cache="Set-Cookie, X-A"'], Directives(no_cache_fields=("set-cookie", "x-a"))),
        (["private"], Directives(private=True)),
        (['private="X-User"'], Directives(private_fields=("x-user",))),
        (
            ["must-revalidate, proxy-revalidate"],
            Directives(must_revalidate=True, proxy_revalidate=True),
        ),
        (
            ["stale-while-revalidate=30, stale-if-error=600"],
            Directives(stale_while_revalidate_s=30, stale_if_error_s=600),
        ),
        (["min-fresh=5, only-if-cached"], Directives(min_fresh_s=5, only_if_cached=True)),
        (["max-stale=7"], Directives(max_stale_s=7.0)),
        (
            ["must-understand, no-store, immutable"],
            Directives(must_understand=True, no_store=True, immutable=True),
        ),
        (["unknown-ext=1, , ="], Directives()),
        ([], Directives()),
    ],
)
def test_parse_cache_control(lines: list[str], expected: Directives) -> None:
    assert parse_cache_control(lines) == expected


def test_max_stale_without_value_accepts_any_staleness() -> None:
    assert parse_cache_control(["max-stale"]).max_stale_s == math.inf


@pytest.mark.parametrize(
    ("h", "max_age", "targeted"),
    [
        (headers(Cache_Control="max-age=10"), 10, False),
        (headers(Cache_Control="max-age=10", CDN_Cache_Control="max-age=20"), 20, True),
        (
            headers(
                Cache_Control="max-age=10",
                CDN_Cache_Control="max-age=20",
                Edgelab_CDN_Cache_Control="max-age=30",
            ),
            30,
            True,
        ),
        (headers(Cache_Control="max-age=10", CDN_Cache_Control="  "), 10, False),  # empty: ignored
        (headers(CDN_Cache_Control="no-store"), None, True),  # overrides even with no CC
    ],
)
def test_targeted_fields_override_cache_control(
    h: object, max_age: int | None, targeted: bool
) -> None:
    cc = response_directives(h, TARGETED)  # type: ignore[arg-type]
    assert (cc.max_age_s, cc.targeted) == (max_age, targeted)


@pytest.mark.parametrize(
    ("h", "no_cache"),
    [
        (headers(Pragma="no-cache"), True),
        (headers(Pragma="no-cache", Cache_Control="max-age=5"), False),  # CC wins over Pragma
        (headers(), False),
    ],
)
def test_pragma_no_cache_only_without_cache_control(h: object, no_cache: bool) -> None:
    assert request_directives(h).no_cache is no_cache  # type: ignore[arg-type]
