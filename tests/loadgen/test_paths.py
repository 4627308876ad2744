"""Path choice for each bypass: first attempts, steering answers cached for their TTL, fallbacks."""

from __future__ import annotations

import random
from typing import Any

import pytest

from edgelab.loadgen.paths import STALE_RETRY_S, Answer, Attempt, PathChooser, Route
from edgelab.loadgen.targets import Targets, parse_targets

A1, A2, B1, ORIGIN, STEER = (
    "http://a1:1",
    "http://a2:1",
    "http://b1:1",
    "http://origin:1",
    "http://steer:1",
)


def make_targets(**overrides: Any) -> Targets:
    data: dict[str, Any] = {
        "cdn-a": [A1, A2],
        "cdn-b": [B1],
        "origin": ORIGIN,
        "steering": {"url": STEER},
        **overrides,
    }
    return parse_targets(data, "test")


def chooser(**overrides: Any) -> PathChooser:
    return PathChooser(make_targets(**overrides), random.Random(1))


def test_none_sticks_to_one_cdn_a_pop() -> None:
    c = chooser(bypass="none")
    assert not c.needs_resolve(0.0)
    routes = {c.first(t) for t in range(20)}
    assert len(routes) == 1 and routes.pop() in (Route("edge-a", A1), Route("edge-a", A2))


def test_pops_are_spread_over_users() -> None:
    targets = make_targets()
    pops = {PathChooser(targets, random.Random(n)).pop_a for n in range(50)}
    assert pops == {A1, A2}


def test_none_never_retries_without_a_policy() -> None:
    assert chooser(bypass="none").next_attempt([Attempt("edge-a", 500)], 0.0) is None


@pytest.mark.parametrize("bypass", ["dns-failover", "multi-cdn"])
def test_steered_answer_is_cached_for_its_ttl(bypass: str) -> None:
    c = chooser(bypass=bypass)
    assert c.needs_resolve(0.0)
    assert c.first(0.0).path == "edge-a"  # before any answer: the primary
    c.resolved(Answer("cdn-a", (A2,), ttl_s=5.0), now=10.0)
    assert c.first(10.0) == Route("edge-a", A2)
    assert not c.needs_resolve(14.9)
    # Steering changed its mind at t=11, but the client only learns it when the TTL runs out.
    assert c.first(14.9) == Route("edge-a", A2)
    assert c.needs_resolve(15.0)
    target, path = ("origin", "origin-direct") if bypass == "dns-failover" else ("cdn-b", "edge-b")
    url = ORIGIN if target == "origin" else B1
    c.resolved(Answer(target, (url,), ttl_s=5.0), now=15.0)
    assert c.first(15.0) == Route(path, url)  # type: ignore[arg-type]


def test_failed_resolve_keeps_the_stale_answer_and_asks_again_soon() -> None:
    c = chooser(bypass="dns-failover")
    c.resolved(Answer("cdn-a", (A1,), ttl_s=2.0), now=0.0)
    c.resolve_failed(now=2.0)
    assert c.first(2.5) == Route("edge-a", A1)
    assert not c.needs_resolve(2.0 + STALE_RETRY_S - 0.01)
    assert c.needs_resolve(2.0 + STALE_RETRY_S)


def test_answer_keeps_the_current_pop_when_it_is_still_listed() -> None:
    c = chooser(bypass="dns-failover")
    c.resolved(Answer("cdn-a", (A1, A2), ttl_s=1.0), now=0.0)
    first = c.first(0.0).url
    for n in range(1, 20):
        c.resolved(Answer("cdn-a", (A1, A2), ttl_s=1.0), now=float(n))
        assert c.first(float(n)).url == first


def test_unknown_url_is_labelled_by_target_name() -> None:
    c = chooser(bypass="dns-failover")
    c.resolved(Answer("cdn-b", ("http://elsewhere:1",), ttl_s=1.0), now=0.0)
    assert c.first(0.0) == Route("edge-b", "http://elsewhere:1")


@pytest.mark.parametrize("status", [0, 500, 502, 503, 504])
def test_retry_direct_falls_back_once_at_once(status: int) -> None:
    c = chooser(bypass="retry-direct")
    step = c.next_attempt([Attempt("edge-a", status)], 0.0)
    assert step is not None
    assert (step.route, step.delay_s, step.kind) == (Route("origin-direct", ORIGIN), 0.0, "direct")
    # The direct attempt failing too is the end without a retry policy.
    assert c.next_attempt([Attempt("edge-a", status), Attempt("origin-direct", 503)], 0.0) is None


@pytest.mark.parametrize("status", [200, 304, 403, 404, 429])
def test_retry_direct_leaves_non_5xx_alone(status: int) -> None:
    assert chooser(bypass="retry-direct").next_attempt([Attempt("edge-a", status)], 0.0) is None


def test_retry_policy_counts_retries_apart_from_the_direct_fallback() -> None:
    c = chooser(bypass="retry-direct", retry={"mode": "immediate", "max_retries": 1})
    history = [Attempt("edge-a", 500)]
    step = c.next_attempt(history, 0.0)
    assert step is not None and step.kind == "direct"
    history.append(Attempt("origin-direct", 503))
    step = c.next_attempt(history, 0.0)
    assert step is not None and step.kind == "retry" and step.route.path == "edge-a"
    history.append(Attempt("edge-a", 500))
    assert c.next_attempt(history, 0.0) is None


def test_backoff_retries_up_to_max_with_growing_ceilings() -> None:
    c = chooser(retry={"mode": "backoff", "max_retries": 3, "base_s": 1.0, "cap_s": 100.0})
    history = [Attempt("edge-a", 503)]
    delays = []
    while (step := c.next_attempt(history, 0.0)) is not None:
        assert step.kind == "retry"
        delays.append(step.delay_s)
        history.append(Attempt("edge-a", 503))
    assert len(delays) == 3
    assert all(0 <= d <= 2 ** (n) for n, d in enumerate(delays))
    assert c.next_attempt([Attempt("edge-a", 200)], 0.0) is None


def test_a_steered_retry_follows_a_new_answer() -> None:
    c = chooser(bypass="dns-failover", retry={"mode": "immediate", "max_retries": 2})
    c.resolved(Answer("cdn-a", (A1,), ttl_s=1.0), now=0.0)
    c.resolved(Answer("origin", (ORIGIN,), ttl_s=1.0), now=1.0)
    step = c.next_attempt([Attempt("edge-a", 500)], 1.0)
    assert step is not None and step.route == Route("origin-direct", ORIGIN)
