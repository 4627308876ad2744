from __future__ import annotations

import pytest

from edgelab.policy.cache.ranges import UNSATISFIABLE, Range, byte_range, if_range_allows
from tests.policy.cache.helpers import T0, date, headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", Range(0, 99)),
        ("bytes=10-", Range(10, 999)),
        ("bytes=-10", Range(990, 999)),
        ("bytes=-5000", Range(0, 999)),
        ("bytes=990-5000", Range(990, 999)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=5-1", None),  # invalid: ignored
        ("bytes=0-1,4-5", None),  # several ranges: whole representation
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=", None),
    ],
)
def test_byte_range(header: str, expected: Range | None) -> None:
    assert byte_range(header, 1000) == expected


def test_content_range() -> None:
    assert Range(0, 99).content_range(1000) == "bytes 0-99/1000"


STORED = headers(ETag='"s"', Last_Modified=date(T0))


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (None, True),
        ('"s"', True),
        ('"other"', False),
        ('W/"s"', False),  # If-Range needs a strong validator
        (date(T0), True),
        (date(T0 - 1), False),
    ],
)
def test_if_range(if_range: str | None, expected: bool) -> None:
    assert if_range_allows(if_range, STORED) is expected
