"""The engine on small rulesets: each action, scoring, execute, killswitches, rate, phases."""

from __future__ import annotations

from typing import Any

import pytest

from edgelab.policy.failure import ModulePanic
from edgelab.policy.waf.engine import (
    MATCH_PREVIEW_CHARS,
    EngineOptions,
    WafEngine,
    WafVerdict,
    shared_engine,
)
from edgelab.policy.waf.exclusions import Exclusion
from edgelab.policy.waf.regex import REGEX_ENGINES, RegexEngine
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import load_default_ruleset, parse_ruleset

RULES = """
[ruleset]
name = "test"
anomaly_rule_id = 949110

[[rules]]
id = 1
msg = "allow the health check"
phase = "headers"
action = "allow"
[[rules.when]]
targets = ["path"]
op = "equals"
arg = "/healthz"

[[rules]]
id = 2
msg = "block admin from outside"
phase = "headers"
action = "block"
[[rules.when]]
targets = ["path"]
op = "prefix"
arg = "/admin"
[[rules.when]]
targets = ["ip"]
op = "ip_match"
arg = ["10.0.0.0/8"]
negate = true

[[rules]]
id = 3
msg = "log odd methods"
phase = "headers"
action = "log"
[[rules.when]]
targets = ["method"]
op = "equals"
arg = ["GET", "POST"]
negate = true

[[rules]]
id = 10
msg = "run the scoring group"
action = "execute"
execute = "scoring"

[[rules]]
id = 20
msg = "login rate"
phase = "headers"
action = "block"
[[rules.when]]
targets = ["path"]
op = "equals"
arg = "/login"
[[rules.when]]
targets = ["ip"]
op = "rate"
arg = { limit = 3, window_s = 10 }

[[groups.scoring]]
id = 100
msg = "warning-level word"
action = "score"
severity = "warning"
[[groups.scoring.when]]
targets = ["args"]
transforms = ["url_decode_repeat"]
op = "contains"
arg = "meh"

[[groups.scoring]]
id = 101
msg = "notice-level word"
action = "score"
severity = "notice"
[[groups.scoring.when]]
targets = ["args"]
op = "contains"
arg = "hmm"

[[groups.scoring]]
id = 102
msg = "paranoid only"
action = "score"
severity = "critical"
paranoia = 2
[[groups.scoring.when]]
targets = ["args"]
op = "contains"
arg = "quirk"

[[groups.scoring]]
id = 103
msg = "body word"
action = "block"
[[groups.scoring.when]]
targets = ["body"]
op = "regex"
arg = 'evil\\s+payload'
"""


def make_engine(engine: RegexEngine = "re2", **options: object) -> WafEngine:
    return WafEngine(
        parse_ruleset(RULES, "test"),
        EngineOptions(regex_engine=engine, **options),  # type: ignore[arg-type]
    )


def run(
    waf: WafEngine,
    path: str = "/",
    query: str = "",
    method: str = "GET",
    ip: str = "198.51.100.1",
    body: bytes | None = None,
    now: float = 0.0,
) -> WafVerdict:
    req = WafRequest.build(method, path, query, {"Host": "h"}, ip)
    state = waf.start()
    verdict = waf.evaluate(req, "headers", now, state)
    if verdict.final:
        return verdict
    if body is not None:
        req.set_body(body, truncated=False)
    return waf.evaluate(req, "body", now, state)


@pytest.fixture(params=REGEX_ENGINES)
def waf(request: pytest.FixtureRequest) -> WafEngine:
    return make_engine(request.param)


def test_nothing_matches(waf: WafEngine) -> None:
    v = run(waf, "/page/1", "q=hello")
    assert not v.blocked and not v.allowed and v.matches == () and v.score == 0


def test_block_names_the_rule_and_stops(waf: WafEngine) -> None:
    v = run(waf, "/admin/users", "q=meh")
    assert v.blocked and v.rule_id == 2
    assert [m.rule_id for m in v.matches] == [2]  # the scoring group never ran
    assert run(waf, "/admin/users", ip="10.1.2.3").blocked is False  # negated ip_match


def test_allow_skips_every_later_rule(waf: WafEngine) -> None:
    v = run(waf, "/healthz", "q=meh+meh", body=b"evil payload")
    assert v.allowed and not v.blocked and [m.rule_id for m in v.matches] == [1]


def test_log_records_and_goes_on(waf: WafEngine) -> None:
    v = run(waf, "/x", method="PUT")
    assert not v.blocked and [(m.rule_id, m.action) for m in v.matches] == [(3, "log")]
    assert v.matches[0].target == "method" and v.matches[0].value == "PUT"


def test_scores_add_up_to_the_anomaly_threshold(waf: WafEngine) -> None:
    warning = run(waf, "/", "a=meh")
    assert warning.score == 3 and not warning.blocked
    both = run(waf, "/", "a=meh&b=hmm")
    assert both.score == 5 and both.blocked and both.rule_id == 949110
    assert {m.rule_id for m in both.matches} == {100, 101}
    assert run(make_engine(anomaly_threshold=6), "/", "a=meh&b=hmm").blocked is False


def test_transforms_run_before_the_operator(waf: WafEngine) -> None:
    assert run(waf, "/", "a=%256Deh").score == 3  # double-encoded "meh"


def test_paranoia_level_adds_rules() -> None:
    assert run(make_engine(paranoia_level=1), "/", "x=quirk").score == 0
    assert run(make_engine(paranoia_level=2), "/", "x=quirk").blocked


def test_body_rules_run_in_the_body_phase(waf: WafEngine) -> None:
    v = run(waf, "/form", method="POST", body=b"a=1&note=evil   payload")
    assert v.blocked and v.rule_id == 103 and v.matches[-1].value == "evil   payload"
    assert "body" in waf.phases and "headers" in waf.phases


def test_rate_counts_per_key_in_windows(waf: WafEngine) -> None:
    assert [run(waf, "/login", now=1.0).blocked for _ in range(4)] == [False, False, False, True]
    assert run(waf, "/login", ip="198.51.100.2", now=1.0).blocked is False  # another key
    assert run(waf, "/login", now=11.0).blocked is False  # a new window


def test_killswitch_disables_a_rule(waf: WafEngine) -> None:
    assert run(waf.with_killed({2}), "/admin").blocked is False
    assert run(waf, "/admin").blocked  # the original is unchanged


def test_killswitch_on_an_execute_rule_raises_like_2025_12_05(waf: WafEngine) -> None:
    killed = waf.with_killed({10})
    with pytest.raises(ModulePanic, match="attempt to index field 'execute'"):
        run(killed, "/page/1")


def test_a_request_whose_scan_found_nothing_runs_only_the_rules_without_a_gate() -> None:
    waf = make_engine()

    def shape(rules: tuple[Any, ...]) -> list[tuple[int, list[Any]]]:
        return [(c.rule_id, shape(c.group)) for c in rules]

    assert shape(waf._by_phase["body"]) == [(10, [(100, []), (101, []), (103, [])])]
    # the group's rules all need a regex hit; the execute rule itself still runs (a killswitch
    # on it must still raise, as on a request with hits)
    assert shape(waf._ungated_by_phase["body"]) == [(10, [])]
    assert shape(waf._ungated_by_phase["headers"]) == shape(waf._by_phase["headers"])
    assert [c.rule_id for c in waf._by_phase["headers"]] == [1, 2, 3, 10, 20]
    assert run(waf, "/", "a=meh&b=hmm").score == 5  # with hits: the whole group runs
    with pytest.raises(ModulePanic):
        run(waf.with_killed({10}), "/", "a=plain")  # no hits: the killed execute still raises


def test_killswitch_on_an_execute_rule_with_the_fix_skips_its_group() -> None:
    fixed = make_engine(killed_execute="skip").with_killed({10})
    assert run(fixed, "/", "a=meh&b=hmm").blocked is False
    assert run(fixed, "/admin").blocked  # rules outside the group still run


def test_a_matched_value_is_truncated() -> None:
    v = run(make_engine(), "/form", method="POST", body=b"evil payload" + b"x" * 500)
    assert len(v.matches[-1].value) <= MATCH_PREVIEW_CHARS


def test_too_many_arguments_with_the_managed_ruleset() -> None:
    waf = WafEngine(load_default_ruleset(), EngineOptions())
    many = "&".join(f"a{i}=1" for i in range(256))
    assert 920380 in [m.rule_id for m in run(waf, "/", many).matches]
    assert run(waf, "/", "&".join(f"a{i}=1" for i in range(255))).blocked is False


def test_the_managed_ruleset_blocks_a_classic_sqli_and_names_the_anomaly_rule() -> None:
    waf = WafEngine(load_default_ruleset(), EngineOptions())
    v = run(waf, "/item", "id=1%27%20OR%20%271%27%3D%271")
    assert v.blocked and v.rule_id == 949110 and 942100 in [m.rule_id for m in v.matches]


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_lone_surrogates_a_client_spells_do_not_make_the_managed_ruleset_raise(
    engine: RegexEngine,
) -> None:
    """`%25uD800` in a query (IIS `%u` after one decoding) and `\\ud800` in a JSON key reached
    libinjection as lone surrogates, whose UTF-8 encoding raised: a 500 under `panic`, and under
    `fail-open` a way to switch the WAF off for any request. Now they are U+FFFD; the attack
    beside them is still seen."""
    waf = WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=2, regex_engine=engine))
    attack = "id=1%27%20OR%20%271%27%3D%271"
    for query in ("x=a%25ud800", "x=%25uD83D%25uDE00b", f"x=%25udc00z&{attack}"):
        v = run(waf, "/item", query)
        assert v.blocked is (attack in query)
    json = b'{"a\\ud800b": "1\' OR \'1\'=\'1", "c\\udfffd": 1}'
    assert run(waf, "/api", "", "POST", body=json).blocked


def test_compiled_engines_are_shared_unless_they_count_rates() -> None:
    managed = load_default_ruleset()
    assert shared_engine(managed, EngineOptions()) is shared_engine(managed, EngineOptions())
    assert shared_engine(managed, EngineOptions()) is not shared_engine(
        managed, EngineOptions(paranoia_level=2)
    )
    with_rates = parse_ruleset(RULES, "test")
    assert shared_engine(with_rates, EngineOptions()) is not shared_engine(
        with_rates, EngineOptions()
    )


FINGERPRINTS = """
[[rules]]
id = 1
msg = "libinjection SQLi, whole statements ignored"
action = "block"
[[rules.when]]
targets = ["args"]
op = "detect_sqli"
ignore = ["E*", "1UEnk"]
"""


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_a_condition_ignores_the_libinjection_fingerprints_it_lists(engine: RegexEngine) -> None:
    waf = WafEngine(parse_ruleset(FINGERPRINTS, "t"), EngineOptions(regex_engine=engine))
    statement = "q=SELECT%20COUNT(*)%20FROM%20orders%20GROUP%20BY%20customer_id"  # Ef(o), by prefix
    union = "id=1%20UNION%20SELECT%20password%20FROM%20users%20--"  # 1UEnk, exactly
    for _ in range(2):  # the second time from the memo of libinjection's answers
        assert run(waf, "/", statement).blocked is False
        assert run(waf, "/", union).blocked is False
        v = run(waf, "/", "id=1%27%20OR%20%271%27%3D%271")  # s&sos: not listed
        assert v.blocked and v.matches[0].value == "s&sos"
    plain = WafEngine(
        parse_ruleset(FINGERPRINTS.replace('ignore = ["E*", "1UEnk"]\n', ""), "t"),
        EngineOptions(regex_engine=engine),
    )
    assert run(plain, "/", statement).blocked and run(plain, "/", union).blocked


SAME_VALUE = """
[[rules]]
id = 1
msg = "the signal: a word libinjection would flag, say"
action = "score"
severity = "error"
[[rules.when]]
targets = ["args", "cookies"]
op = "contains"
arg = "signal"

[[rules]]
id = 2
msg = "its confirmation, on the same value only"
action = "score"
severity = "notice"
same_value_as = [1]
[[rules.when]]
targets = ["args", "cookies"]
transforms = ["url_decode_repeat"]
op = "regex"
arg = 'confirm\\w*'

"""


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_a_same_value_rule_counts_only_on_a_value_the_rule_it_names_matched(
    engine: RegexEngine,
) -> None:
    waf = WafEngine(parse_ruleset(SAME_VALUE, "t"), EngineOptions(regex_engine=engine))
    together = run(waf, "/", "a=x&q=signal%2520confirmed")  # 4 + 2 points on args:q
    assert together.blocked and [(m.rule_id, m.target) for m in together.matches] == [
        (1, "args:q"),
        (2, "args:q"),
    ]
    assert together.matches[1].value == "confirmed"  # the matched text, as other rules record
    apart = run(waf, "/", "q=signal&r=confirmed")  # the same two words in two fields
    assert not apart.blocked and [m.rule_id for m in apart.matches] == [1]
    assert run(waf, "/", "r=confirmed").matches == ()  # nothing to confirm
    # one of several values: the confirmation is found on the value that carries the signal
    many = run(waf, "/", "a=confirm&b=zz&q=signal%20confirmed")
    assert many.blocked and many.matches[1].target == "args:q"


PRESENCE = """
[[rules]]
id = 1
msg = "X-A must be ok when sent"
phase = "headers"
action = "block"
[[rules.when]]
targets = ["header:x-a"]
op = "regex"
arg = '^ok$'
negate = true

[[rules]]
id = 2
msg = "at most one request per X-Key (a missing key counts as the key '')"
phase = "headers"
action = "block"
[[rules.when]]
targets = ["header:x-key"]
op = "rate"
arg = { limit = 1, window_s = 60 }
"""


def test_rules_reading_only_absent_headers_are_skipped_but_rates_keyed_on_them_count() -> None:
    waf = WafEngine(parse_ruleset(PRESENCE, "t"), EngineOptions())
    # rule 1 reads only X-A: skipped without it (its checks would find nothing anyway)
    assert [c.present for c in waf._by_phase["headers"]] == [("x-a",), ()]

    def head(headers: dict[str, str]) -> WafVerdict:
        req = WafRequest.build("GET", "/", "", {"Host": "h", **headers}, "198.51.100.1")
        return waf.evaluate(req, "headers", 0.0, waf.start())

    assert head({"X-A": "bad", "X-Key": "k1"}).rule_id == 1
    assert head({"X-A": "ok", "X-Key": "k2"}).blocked is False
    assert head({}).blocked is False  # the first request with no X-Key: key ""
    assert head({}).rule_id == 2  # the second: a rate is not skipped for a missing header


PHASED = """
[[rules]]
id = 1
msg = "query argument, in phase 1"
phase = "headers"
action = "log"
[[rules.when]]
targets = ["args"]
transforms = ["trim"]
op = "equals"
arg = "never"

[[rules]]
id = 2
msg = "the same target and chain in phase 2 must see the body's arguments"
phase = "body"
action = "block"
[[rules.when]]
targets = ["args"]
transforms = ["trim"]
op = "equals"
arg = "evil"
"""


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_phase_two_sees_body_arguments_a_phase_one_rule_already_read_args_for(
    engine: RegexEngine,
) -> None:
    """What phase 1 computed of `args` (and its transformed forms) is dropped with the body."""
    waf = WafEngine(parse_ruleset(PHASED, "test"), EngineOptions(regex_engine=engine))
    req = WafRequest.build(
        "POST", "/", "a=1", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    state = waf.start()
    assert not waf.evaluate(req, "headers", 0.0, state).final
    req.set_body(b"b=+evil+", truncated=False)
    assert waf.evaluate(req, "body", 0.0, state).rule_id == 2


def test_header_names_are_tested_as_sent_and_as_a_view_hides_them() -> None:
    """`equals` on `header_names` reads the names lowercased once per request; the match
    records the name as sent, and an exclusion that hides the names hides them from it."""
    rules = """
[[rules]]
id = 1
msg = "scanner header"
phase = "headers"
action = "block"
[[rules.when]]
targets = ["header_names"]
op = "equals"
arg = ["x-scanner", "acunetix-product"]
"""
    waf = WafEngine(parse_ruleset(rules, "t"), EngineOptions())
    hidden = waf.with_exclusions([Exclusion(rules=[1], targets=["header_names"])])

    def head(engine: WafEngine, headers: dict[str, str]) -> WafVerdict:
        req = WafRequest.build("GET", "/", "", headers, "198.51.100.1")
        return engine.evaluate(req, "headers", 0.0, engine.start())

    found = head(waf, {"Host": "h", "X-Scanner": "1", "Acunetix-Product": "2"})
    assert found.rule_id == 1 and found.matches[0].value == "X-Scanner"
    assert found.matches[0].target == "header_names"
    assert not head(waf, {"Host": "h", "X-Scanners": "1"}).blocked
    assert not head(hidden, {"Host": "h", "X-Scanner": "1"}).blocked
