from __future__ import annotations

import pytest

from edgelab.policy.cache.invalidation import invalidated_urls, surrogate_keys
from tests.policy.cache.helpers import headers

URL = "http://shop.example/cart"


@pytest.mark.parametrize(
    ("method", "status", "h", "expected"),
    [
        ("GET", 200, headers(), []),
        ("HEAD", 200, headers(), []),
        ("POST", 500, headers(), []),
        ("POST", 404, headers(), []),
        ("POST", 200, headers(), [URL]),
        ("DELETE", 204, headers(), [URL]),
        ("PROPFIND", 207, headers(), [URL]),  # not known to be safe
        ("POST", 303, headers(Location="/cart/7"), [URL, "http://shop.example/cart/7"]),
        (
            "PUT",
            201,
            headers(Content_Location="http://shop.example/c?x=1"),
            [URL, "http://shop.example/c?x=1"],
        ),
        ("POST", 302, headers(Location="http://evil.example/cart"), [URL]),  # other origin
    ],
)
def test_invalidated_urls(method: str, status: int, h: object, expected: list[str]) -> None:
    assert invalidated_urls(method, status, URL, h) == expected  # type: ignore[arg-type]


def test_surrogate_keys_merge_both_syntaxes() -> None:
    assert surrogate_keys(["a, b", "c"], ["d e", " f "]) == frozenset("abcdef")
