from __future__ import annotations

import pytest

from edgelab.config.bot import BotRule
from edgelab.policy.bot.rules import first_match

RULES = (
    BotRule(id="login", path_prefix="/login", methods=("post",), score_below=30),
    BotRule(id="api-log", path_prefix="/api/", score_below=50, action="log"),
)


@pytest.mark.parametrize(
    ("method", "path", "score", "expected"),
    [
        ("POST", "/login", 29, "login"),
        ("POST", "/login", 30, None),
        ("GET", "/login", 1, None),
        ("POST", "/login", 0, "login"),  # score 0: the degraded module blocks everyone
        ("GET", "/api/cart", 49, "api-log"),
        ("GET", "/page/1", 1, None),
    ],
)
def test_first_matching_rule(method: str, path: str, score: int, expected: str | None) -> None:
    rule = first_match(RULES, method, path, score)
    assert (rule.id if rule else None) == expected
