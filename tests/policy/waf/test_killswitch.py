from __future__ import annotations

import pytest

from edgelab.policy.waf.killswitch import Killswitches, parse_killswitches


def test_the_shared_document() -> None:
    ks = parse_killswitches(
        b'{"modules": {"waf": false, "bot": true}, "rules": ["942100", 100002]}'
    )
    assert ks == Killswitches(waf_killed=False, rules=frozenset({942100, 100002}))
    assert parse_killswitches(b'{"modules": {"waf": true}}').waf_killed
    assert parse_killswitches(b"{}") == Killswitches()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"modules": {"waf": "yes"}}',
        b'{"rules": "942100"}',
        b'{"rules": ["x"]}',
        b'{"rules": [true]}',
    ],
)
def test_malformed_documents_raise(content: bytes) -> None:
    with pytest.raises(ValueError, match="killswitches"):
        parse_killswitches(content)
