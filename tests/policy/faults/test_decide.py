from __future__ import annotations

import random

import pytest

from edgelab.policy.faults.decide import decide, matches
from edgelab.policy.faults.plan import FaultMatch, FaultPlan, FaultRule


def plan(*rules: FaultRule) -> FaultPlan:
    return FaultPlan(rules=rules)


@pytest.mark.parametrize(
    ("match", "method", "path", "headers", "expected"),
    [
        (FaultMatch(), "GET", "/x", {}, True),
        (FaultMatch(path_prefix="/api/"), "GET", "/page/1", {}, False),
        (FaultMatch(path_prefix="/api/"), "GET", "/api/1", {}, True),
        (FaultMatch(methods=("POST",)), "GET", "/", {}, False),
        (FaultMatch(header="X-Canary"), "GET", "/", {"X-Canary": "1"}, True),
        (FaultMatch(header="X-Canary"), "GET", "/", {}, False),
        (FaultMatch(header="X-Canary: yes"), "GET", "/", {"X-Canary": "no"}, False),
        (FaultMatch(header="X-Canary: yes"), "GET", "/", {"X-Canary": "yes"}, True),
    ],
)
def test_matches(
    match: FaultMatch, method: str, path: str, headers: dict[str, str], expected: bool
) -> None:
    assert matches(match, method, path, headers) is expected


def test_no_plan_no_fault() -> None:
    assert decide(plan(), "GET", "/", {}, random.Random(1)).none


def test_effects_add_up() -> None:
    d = decide(
        plan(
            FaultRule(id="a", kind="delay", delay_ms=50),
            FaultRule(id="b", kind="abort", status=503),
            FaultRule(id="c", kind="abort", status=500),
            FaultRule(id="d", kind="burn", burn_ms=5),
        ),
        "GET",
        "/",
        {},
        random.Random(1),
    )
    assert (d.abort_status, d.delay_s, d.burn_s, d.panic) == (503, 0.05, 0.005, False)
    assert d.rule_ids == ("a", "b", "c", "d")


def test_percentage_is_a_seeded_fraction() -> None:
    p = plan(FaultRule(id="a", kind="abort", percentage=30))
    rng = random.Random(42)
    hits = sum(decide(p, "GET", "/", {}, rng).abort_status == 500 for _ in range(10_000))
    assert 2700 < hits < 3300
    replay = random.Random(42)
    assert [decide(p, "GET", "/", {}, replay).none for _ in range(50)] == [
        decide(p, "GET", "/", {}, r).none for r in [random.Random(42)] for _ in range(50)
    ]
