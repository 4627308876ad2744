from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.policy.cache.directives import parse_cache_control
from edgelab.policy.cache.freshness import (
    FreshnessOptions,
    freshness,
    initial_age,
    lifetime,
)
from tests.policy.cache.helpers import T0, headers
from tests.policy.cache.helpers import date as http_date

OPTS = FreshnessOptions()
DATE = http_date(T0)


@pytest.mark.parametrize(
    ("cc", "h", "status", "expected"),
    [
        ("s-maxage=30, max-age=60", headers(), 200, (30.0, False)),
        ("max-age=60", headers(Expires=http_date(T0 + 600), Date=DATE), 200, (60.0, False)),
        ("", headers(Expires=http_date(T0 + 600), Date=DATE), 200, (600.0, False)),
        ("", headers(Expires="0", Date=DATE), 200, (0.0, False)),  # invalid Expires = expired
        ("", headers(Expires=http_date(T0 - 5), Date=DATE), 200, (0.0, False)),
        # heuristic: 10% of Date - Last-Modified (1000 s) ...
        ("", headers(Date=DATE, Last_Modified=http_date(T0 - 1000)), 200, (100.0, True)),
        # ... capped at heuristic_max_s ...
        ("", headers(Date=DATE, Last_Modified=http_date(T0 - 10**7)), 200, (86400.0, True)),
        # ... only for heuristically cacheable statuses or public
        ("", headers(Date=DATE, Last_Modified=http_date(T0 - 1000)), 302, (0.0, False)),
        ("public", headers(Date=DATE, Last_Modified=http_date(T0 - 1000)), 302, (100.0, True)),
        ("", headers(Date=DATE, Last_Modified=http_date(T0 - 1000)), 404, (100.0, True)),
        ("", headers(Date=DATE), 200, (0.0, False)),
    ],
)
def test_lifetime(cc: str, h: CIMultiDict[str], status: int, expected: tuple[float, bool]) -> None:
    assert lifetime(parse_cache_control([cc] if cc else []), h, status, OPTS) == expected


def test_targeted_field_ignores_expires() -> None:
    cc = parse_cache_control(["public"], targeted=True)
    h = headers(Expires=http_date(T0 + 600), Date=DATE)
    assert lifetime(cc, h, 200, OPTS) == (0.0, False)


@pytest.mark.parametrize(
    ("h", "request_time", "response_time", "expected"),
    [
        (headers(Date=DATE), T0, T0, 0.0),
        (headers(Date=http_date(T0 - 10)), T0, T0, 10.0),  # apparent age
        (headers(Date=DATE, Age="30"), T0 - 2, T0, 32.0),  # Age + response delay
        (headers(Date=http_date(T0 + 50)), T0, T0, 0.0),  # clock skew: never negative
        (headers(Age="abc"), T0, T0, 0.0),
        (headers(), T0 - 1, T0, 1.0),
    ],
)
def test_initial_age_is_corrected_per_rfc_9111_4_2_3(
    h: CIMultiDict[str], request_time: float, response_time: float, expected: float
) -> None:
    assert initial_age(h, request_time, response_time) == expected


def test_current_age_adds_resident_time_and_ttl_counts_down() -> None:
    f = freshness(
        parse_cache_control(["max-age=60"]),
        headers(Date=http_date(T0 - 10)),
        status=200,
        request_time=T0,
        response_time=T0,
        options=OPTS,
    )
    assert f.age(T0 + 5) == 15.0
    assert f.ttl(T0 + 5) == 45.0
    assert f.fresh(T0 + 49) and not f.fresh(T0 + 50)


@pytest.mark.parametrize(
    ("cc", "expected"),
    [
        ("max-age=1", (None, None, False, False)),  # the configured defaults apply later
        ("max-age=1, stale-while-revalidate=5, stale-if-error=9", (5.0, 9.0, False, False)),
        ("max-age=1, stale-if-error=0", (None, 0.0, False, False)),  # origin's 0 wins
        ("max-age=1, must-revalidate", (None, None, True, True)),
        ("s-maxage=1", (None, None, False, True)),  # s-maxage: no client max-stale
    ],
)
def test_stale_windows_and_revalidation_flags(
    cc: str, expected: tuple[float | None, float | None, bool, bool]
) -> None:
    f = freshness(
        parse_cache_control([cc]),
        headers(),
        status=200,
        request_time=T0,
        response_time=T0,
        options=OPTS,
    )
    assert (f.stale_while_revalidate_s, f.stale_if_error_s, f.no_stale, f.no_max_stale) == expected
    assert f.sie_s(3600.0) == (expected[1] if expected[1] is not None else 3600.0)


def test_expired_makes_a_fresh_response_stale_from_now() -> None:
    from edgelab.policy.cache.freshness import expired

    f = freshness(
        parse_cache_control(["max-age=600"]),
        headers(Date=http_date(T0)),
        status=200,
        request_time=T0,
        response_time=T0,
        options=OPTS,
    )
    soft = expired(f, T0 + 100)
    assert f.fresh(T0 + 100) and not soft.fresh(T0 + 100)
    assert soft.ttl(T0 + 130) == -30.0  # stale windows count from the purge
    assert expired(soft, T0 + 200).lifetime_s == 100.0  # a second purge changes nothing
