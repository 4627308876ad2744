from __future__ import annotations

import pytest

from edgelab.origin.content import filler, not_modified, static_asset
from edgelab.origin.profile import Routes

ASSET = static_asset("/static/app.js", Routes(), last_modified=1_700_000_000.0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        ({"If-None-Match": ASSET.etag}, True),
        ({"If-None-Match": f'"other", {ASSET.etag}'}, True),
        ({"If-None-Match": f"W/{ASSET.etag}"}, True),
        ({"If-None-Match": '"other"'}, False),
        ({"If-None-Match": "*"}, True),
        ({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT"}, True),
        ({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:19 GMT"}, False),
        ({"If-Modified-Since": "not a date"}, False),
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        ({"If-None-Match": '"other"', "If-Modified-Since": "Tue, 14 Nov 2030 22:13:20 GMT"}, False),
    ],
)
def test_conditional_get(headers: dict[str, str], expected: bool) -> None:
    assert not_modified(ASSET, headers) is expected


def test_filler_is_deterministic_and_sized() -> None:
    assert len(filler(5000, "x")) == 5000
    assert filler(100, "x") == filler(100, "x") != filler(100, "y")


def test_static_asset_headers() -> None:
    assert ASSET.cache_control == "public, max-age=300"
    assert ASSET.etag is not None and ASSET.etag.startswith('"')
    assert len(ASSET.body) == 1024
