"""The pure health state machine: checks in, up/down transitions out."""

from __future__ import annotations

import pytest

from edgelab.steering.config import HealthCheck
from edgelab.steering.health import HealthState, Transition, check_passes, observe


def run(statuses: list[int], policy: HealthCheck) -> tuple[HealthState, list[Transition]]:
    state, changes = HealthState(), []
    for n, status in enumerate(statuses):
        state, change = observe(state, status, float(n), policy, "http://pop")
        if change is not None:
            changes.append(change)
    return state, changes


def test_starts_up() -> None:
    assert HealthState().status == "up"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([500, 500], []),
        ([500, 500, 500], [(2.0, "down")]),
        ([500, 500, 200, 500, 500], []),  # not consecutive
        ([0, 0, 0, 200, 200], [(2.0, "down"), (4.0, "up")]),
        ([503, 504, 500, 200, 500, 200, 200], [(2.0, "down"), (6.0, "up")]),
        ([404, 404, 404], [(2.0, "down")]),  # 4xx is not healthy by default
        ([301, 304, 204], []),
    ],
)
def test_transitions(statuses: list[int], expected: list[tuple[float, str]]) -> None:
    policy = HealthCheck(failures_to_down=3, successes_to_up=2)
    state, changes = run(statuses, policy)
    assert [(c.at, c.to) for c in changes] == expected
    if changes:
        assert state.status == changes[-1].to and state.since == changes[-1].at
        assert changes[0].url == "http://pop"


def test_transition_reason_names_the_last_check() -> None:
    _, changes = run([500, 0], HealthCheck(failures_to_down=2))
    assert changes[0].reason == "2 failed checks, last: no answer"
    assert (changes[0].from_, changes[0].to) == ("up", "down")


def test_healthy_classes_are_configurable() -> None:
    _, changes = run([404] * 5, HealthCheck(healthy=("2xx", "3xx", "4xx"), failures_to_down=1))
    assert changes == []


def test_5xx_ratio_fails_checks_that_got_200() -> None:
    # A POP failing half its requests: a single-status check would flap, the ratio holds it down.
    policy = HealthCheck(failures_to_down=2, successes_to_up=2, max_5xx_ratio=0.2, window=6)
    state, changes = run([200, 500, 200, 500, 200, 500, 200, 200, 200], policy)
    assert [c.to for c in changes] == ["down"]
    assert state.status == "down"
    ok, reason = check_passes(200, (500, 200, 500, 200, 200, 200), policy)
    assert not ok and reason.startswith("5xx ratio 0.33")
    state, changes = run([200, 500, 200, 500, 200] + [200] * 8, policy)
    assert [c.to for c in changes] == ["down", "up"]


def test_window_keeps_only_recent_statuses() -> None:
    state, _ = run([1, 2, 3, 4, 5], HealthCheck(window=3, failures_to_down=10))
    assert state.recent == (3, 4, 5) and state.checks == 5
