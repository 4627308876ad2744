from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.policy.cache.validation import (
    client_not_modified,
    freshen_headers,
    not_modified_headers,
    validators,
)
from tests.policy.cache.helpers import T0, date, headers

STORED = headers(
    ETag='"abc"', Last_Modified=date(T0 - 100), Date=date(T0), Content_Type="text/plain"
)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (STORED, {"If-None-Match": '"abc"', "If-Modified-Since": date(T0 - 100)}),
        (headers(ETag='W/"w"'), {"If-None-Match": 'W/"w"'}),
        (headers(), {}),
    ],
)
def test_validators(stored: CIMultiDict[str], expected: dict[str, str]) -> None:
    assert validators(stored) == expected


@pytest.mark.parametrize(
    ("request_headers", "expected"),
    [
        (headers(If_None_Match='"abc"'), True),
        (headers(If_None_Match='W/"abc"'), True),  # weak comparison
        (headers(If_None_Match='"x", "abc"'), True),
        (headers(If_None_Match="*"), True),
        (headers(If_None_Match='"x"'), False),
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        (headers(If_None_Match='"x"', If_Modified_Since=date(T0)), False),
        (headers(If_Modified_Since=date(T0 - 100)), True),
        (headers(If_Modified_Since=date(T0 - 101)), False),
        (headers(If_Modified_Since="garbage"), False),
        (headers(), False),
    ],
)
def test_client_not_modified(request_headers: CIMultiDict[str], expected: bool) -> None:
    assert client_not_modified(request_headers, STORED) is expected


def test_a_304_updates_stored_headers_except_the_body_describing_ones() -> None:
    stored = headers(ETag='"a"', Cache_Control="max-age=0", Content_Length="10", X_Old="1")
    update = headers(Cache_Control="max-age=60", Content_Length="0", X_New="2")
    merged = freshen_headers(stored, update)
    assert merged["Cache-Control"] == "max-age=60"
    assert merged["Content-Length"] == "10" and merged["X-Old"] == "1" and merged["X-New"] == "2"
    assert stored["Cache-Control"] == "max-age=0"  # a copy


def test_not_modified_headers_keep_only_what_a_304_carries() -> None:
    out = not_modified_headers(STORED)
    assert set(out) == {"ETag", "Last-Modified", "Date"}
