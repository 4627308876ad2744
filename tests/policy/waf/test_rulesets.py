"""Every shipped rule's own cases: the ids that must fire, the requests that must pass."""

from __future__ import annotations

import functools

import pytest

from edgelab.policy.waf.engine import EngineOptions, WafEngine
from edgelab.policy.waf.regex import REGEX_ENGINES, RegexEngine
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import (
    NAMED_RULESETS,
    Case,
    Rule,
    load_default_ruleset,
    named_ruleset_document,
    parse_ruleset,
)

RULESETS = {name: parse_ruleset(named_ruleset_document(name), name) for name in NAMED_RULESETS}


@functools.cache
def compiled(name: str, paranoia: int, engine: RegexEngine) -> WafEngine:
    """Every rule allowed to run (no anomaly block), compiled once per test session."""
    return WafEngine(
        RULESETS[name],
        EngineOptions(paranoia_level=paranoia, regex_engine=engine, anomaly_threshold=10**9),
    )


def fired(name: str, rule: Rule, case: Case, engine: RegexEngine) -> list[int]:
    """Rule ids that matched the case's last request (a fresh engine for rate cases)."""
    waf = compiled(name, rule.paranoia, engine)
    if case.repeat > 1:
        waf = WafEngine(waf.ruleset, waf.options)
    ids: list[int] = []
    for i in range(case.repeat):
        req = WafRequest.build(case.method, case.path, case.query, case.headers, case.ip)
        state = waf.start()
        waf.evaluate(req, "headers", float(i), state)
        if case.body is not None:
            req.set_body(case.body.encode(), truncated=False)
        ids = [m.rule_id for m in waf.evaluate(req, "body", float(i), state).matches]
    return ids


def all_cases() -> list[tuple[str, Rule, int, Case]]:
    out = []
    for name in NAMED_RULESETS:
        ruleset = parse_ruleset(named_ruleset_document(name), name)
        for rule in ruleset.all_rules():
            if name != "managed" and rule.id in load_default_ruleset().ids():
                continue  # the managed rules are covered once
            out += [(name, rule, i, case) for i, case in enumerate(rule.cases)]
    return out


@pytest.mark.parametrize("engine", REGEX_ENGINES)
@pytest.mark.parametrize(
    ("name", "rule", "index", "case"),
    all_cases(),
    ids=[f"{r.id}-{i}-{c.expect}" for _, r, i, c in all_cases()],
)
def test_rule_case(name: str, rule: Rule, index: int, case: Case, engine: RegexEngine) -> None:
    ids = fired(name, rule, case, engine)
    if case.expect == "fire":
        assert rule.id in ids, f"rule {rule.id} did not fire on case {index}"
    else:
        assert rule.id not in ids, f"rule {rule.id} fired on pass case {index}"


def test_every_detection_rule_has_a_case_of_each_kind() -> None:
    for rule in load_default_ruleset().all_rules():
        if rule.action == "execute":
            continue
        kinds = {c.expect for c in rule.cases}
        assert "pass" in kinds, rule.id
        # 920380 (too many arguments) fires on a 256-argument request, built in the engine tests.
        assert "fire" in kinds or rule.id == 920380, rule.id


def test_the_managed_ruleset_covers_every_attack_class() -> None:
    tags = {t for r in load_default_ruleset().all_rules() for t in r.tags}
    assert {"sqli", "xss", "lfi", "rce", "scanner", "protocol"} <= tags


def test_the_incident_ruleset_is_the_managed_one_plus_the_2019_rule() -> None:
    managed, incident = load_default_ruleset(), RULESETS["2019-07-02"]
    assert incident.ids() - managed.ids() == {100015}
    assert incident.rule(100015).action == "log"  # shipped in "simulate" mode
