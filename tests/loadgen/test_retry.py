"""Retry policy: which statuses are retried, and the backoff's bounds."""

from __future__ import annotations

import random

import pytest

from edgelab.loadgen.retry import RetryPolicy


@pytest.mark.parametrize(
    ("mode", "status", "expected"),
    [
        ("none", 503, False),
        ("immediate", 503, True),
        ("backoff", 0, True),
        ("backoff", 500, True),
        ("backoff", 404, False),
        ("immediate", 429, False),
    ],
)
def test_should_retry(mode: str, status: int, expected: bool) -> None:
    assert RetryPolicy.model_validate({"mode": mode}).should_retry(status) is expected


def test_immediate_never_waits() -> None:
    policy = RetryPolicy(mode="immediate")
    assert {policy.delay_s(n, random.Random(n)) for n in range(1, 6)} == {0.0}


@pytest.mark.parametrize(("retry", "ceiling"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (6, 1.0)])
def test_backoff_full_jitter_stays_under_its_ceiling(retry: int, ceiling: float) -> None:
    policy = RetryPolicy(mode="backoff", base_s=0.1, cap_s=1.0)
    rng = random.Random(retry)
    delays = [policy.delay_s(retry, rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    # Full jitter spreads retries over the whole interval instead of synchronising them.
    assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_backoff_is_reproducible_from_the_rng() -> None:
    policy = RetryPolicy(mode="backoff")
    a = [policy.delay_s(n, random.Random(5)) for n in range(1, 4)]
    b = [policy.delay_s(n, random.Random(5)) for n in range(1, 4)]
    assert a == b
