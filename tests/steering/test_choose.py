"""Which target answers a resolve, given which URLs are up."""

from __future__ import annotations

import pytest

from edgelab.steering.choose import choose
from edgelab.steering.config import Target

TARGETS = [
    Target(name="cdn-a", urls=["http://a1", "http://a2"]),
    Target(name="cdn-b", urls=["http://b1"]),
    Target(name="origin", urls=["http://o"]),
]


@pytest.mark.parametrize(
    ("down", "target", "urls", "healthy"),
    [
        (set(), "cdn-a", ("http://a1", "http://a2"), True),
        ({"http://a1"}, "cdn-a", ("http://a2",), True),
        ({"http://a1", "http://a2"}, "cdn-b", ("http://b1",), True),
        ({"http://a1", "http://a2", "http://b1"}, "origin", ("http://o",), True),
        ({"http://a2", "http://b1"}, "cdn-a", ("http://a1",), True),
        # Everything down: the primary, all its URLs, flagged unhealthy (never "nowhere").
        ({"http://a1", "http://a2", "http://b1", "http://o"}, "cdn-a", ("http://a1", "http://a2"), False),
    ],
)  # fmt: skip
def test_first_target_with_a_url_up(
    down: set[str], target: str, urls: tuple[str, ...], healthy: bool
) -> None:
    answer = choose("www", TARGETS, lambda u: u not in down, ttl_s=3.0)
    assert (answer.target, answer.urls, answer.healthy, answer.ttl_s) == (
        target,
        urls,
        healthy,
        3.0,
    )
    assert answer.to_json()["urls"] == list(urls)
