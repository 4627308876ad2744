"""Pure health state of one checked URL: check results in, up/down transitions out.

    state = HealthState()                       # every URL starts up
    state, change = observe(state, 500, now=12.0, policy=HealthCheck(failures_to_down=2))
    state, change = observe(state, 500, now=13.0, policy=...)   # change.to == "down"

No clock, no I/O: the server passes in each check's status (0 = no answer) and the time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from edgelab.steering.config import HealthCheck

Health = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class HealthState:
    """Where one URL stands; URLs start up (a new target is trusted until checks say no)."""

    status: Health = "up"
    since: float = 0.0
    """When `status` last changed (epoch seconds; 0 = since start)."""
    ok_streak: int = 0
    fail_streak: int = 0
    recent: tuple[int, ...] = ()
    """Statuses of the last `window` checks, oldest first."""
    checks: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    """A URL changing state, with the check that tipped it."""

    at: float
    url: str
    from_: Health
    to: Health
    reason: str


def check_passes(status: int, recent: tuple[int, ...], policy: HealthCheck) -> tuple[bool, str]:
    """Whether one check passed (given the recent statuses, this one included), and why."""
    if status == 0:
        return False, "no answer"
    if f"{status // 100}xx" not in policy.healthy:
        return False, f"status {status}"
    if policy.max_5xx_ratio is not None and recent:
        ratio = sum(1 for s in recent if 500 <= s <= 599) / len(recent)
        if ratio > policy.max_5xx_ratio:
            return False, f"5xx ratio {ratio:.2f} > {policy.max_5xx_ratio:.2f}"
    return True, f"status {status}"


def observe(
    state: HealthState, status: int, now: float, policy: HealthCheck, url: str = ""
) -> tuple[HealthState, Transition | None]:
    """Fold one check result into `state`; returns the new state and a transition, if any."""
    recent = (*state.recent, status)[-policy.window :]
    ok, reason = check_passes(status, recent, policy)
    ok_streak = state.ok_streak + 1 if ok else 0
    fail_streak = 0 if ok else state.fail_streak + 1
    new = replace(
        state, ok_streak=ok_streak, fail_streak=fail_streak, recent=recent, checks=state.checks + 1
    )
    if state.status == "up" and fail_streak >= policy.failures_to_down:
        reason = f"{fail_streak} failed checks, last: {reason}"
        return replace(new, status="down", since=now), Transition(now, url, "up", "down", reason)
    if state.status == "down" and ok_streak >= policy.successes_to_up:
        reason = f"{ok_streak} passed checks, last: {reason}"
        return replace(new, status="up", since=now), Transition(now, url, "down", "up", reason)
    return new, None
