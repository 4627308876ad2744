"""Request + plan + rng -> FaultDecision. Pure: the rng comes in, so a seeded run replays.

    decision = decide(plan, "GET", "/page/1", headers, rng)
    decision.abort_status, decision.delay_s, decision.panic, decision.burn_s

Every matching rule draws once; effects add up (a delay and an abort both apply: the client
waits, then gets the error), which is what stacked Envoy faults do.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from edgelab.policy.faults.plan import FaultMatch, FaultPlan


@dataclass(frozen=True)
class FaultDecision:
    abort_status: int | None = None
    delay_s: float = 0.0
    panic: bool = False
    burn_s: float = 0.0
    rule_ids: tuple[str, ...] = ()

    @property
    def none(self) -> bool:
        return not self.rule_ids


NO_FAULT = FaultDecision()


def matches(match: FaultMatch, method: str, path: str, headers: Mapping[str, str]) -> bool:
    if not path.startswith(match.path_prefix):
        return False
    if match.methods and method not in match.methods:
        return False
    if match.header is not None:
        name, sep, value = match.header.partition(":")
        got = headers.get(name.strip())
        if got is None or (sep and got.strip() != value.strip()):
            return False
    return True


def decide(
    plan: FaultPlan, method: str, path: str, headers: Mapping[str, str], rng: random.Random
) -> FaultDecision:
    if not plan.rules:
        return NO_FAULT
    abort: int | None = None
    delay_s = burn_s = 0.0
    panic = False
    hit: list[str] = []
    for rule in plan.rules:
        if not matches(rule.match, method, path, headers):
            continue
        if rule.percentage < 100.0 and rng.random() * 100.0 >= rule.percentage:
            continue
        hit.append(rule.id)
        if rule.kind == "abort" and abort is None:
            abort = rule.status
        elif rule.kind == "delay":
            delay_s += rule.delay_ms / 1000.0
        elif rule.kind == "panic":
            panic = True
        elif rule.kind == "burn":
            burn_s += rule.burn_ms / 1000.0
    if not hit:
        return NO_FAULT
    return FaultDecision(abort, delay_s, panic, burn_s, tuple(hit))
