"""Customer rules that act on the bot score: the first rule that matches decides.

    rule = first_match(config.rules, method="POST", path="/login", score=12)
    if rule is not None and rule.action == "block": ...   # 403

A rule matches when the request path starts with `path_prefix`, the method is in `methods` (or
`methods` is empty) and the score is below `score_below`. With every score 0 (a failed feature
file under `degrade`) a rule "block score < 30 on /login" blocks every real user: the false
positives of 2025-11-18 on the old proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class ScoreRule(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def path_prefix(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...
    @property
    def score_below(self) -> int: ...
    @property
    def action(self) -> str: ...


R = TypeVar("R", bound=ScoreRule)


def first_match(rules: Sequence[R], method: str, path: str, score: int) -> R | None:
    for rule in rules:
        if score >= rule.score_below or not path.startswith(rule.path_prefix):
            continue
        if rule.methods and method.upper() not in rule.methods:
            continue
        return rule
    return None
