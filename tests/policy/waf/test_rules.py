from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgelab.errors import ConfigError
from edgelab.policy.waf.rules import (
    bundle,
    load_ruleset,
    managed_dir,
    named_ruleset_document,
    parse_ruleset,
    salvage_ruleset,
)

GOOD: dict[str, Any] = {
    "ruleset": {"name": "t"},
    "rules": [{"id": 1, "msg": "run", "action": "execute", "execute": "g"}],
    "groups": {
        "g": [
            {
                "id": 2,
                "msg": "m",
                "action": "block",
                "when": [{"targets": ["args"], "op": "contains", "arg": "x"}],
            }
        ]
    },
}


def with_rule(**changes: object) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(GOOD))
    doc["groups"]["g"][0].update(changes)
    return doc


def test_json_and_toml_documents_parse() -> None:
    assert parse_ruleset(json.dumps(GOOD), "a.json").ids() == {1, 2}
    toml = (managed_dir() / "entry.toml").read_text()
    toml += '[[groups.managed]]\nid = 5\nmsg = "m"\naction = "log"\n'
    toml += '[[groups.managed.when]]\ntargets = ["path"]\nop = "prefix"\narg = "/x"\n'
    toml += '[[groups.test]]\nid = 6\nmsg = "t"\naction = "log"\n'
    toml += '[[groups.test.when]]\ntargets = ["method"]\nop = "equals"\narg = "GET"\n'
    assert parse_ruleset(toml, "t.toml").ids() == {100001, 100002, 5, 6}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            with_rule(when=[{"targets": ["args"], "op": "nope"}]),
            "(id 2).when.0: Value error, unknown operator 'nope'",
        ),
        (
            with_rule(when=[{"targets": ["argz"], "op": "contains", "arg": "x"}]),
            "unknown target 'argz'",
        ),
        (
            with_rule(
                when=[{"targets": ["args"], "transforms": ["rot13"], "op": "contains", "arg": "x"}]
            ),
            "unknown transform 'rot13'",
        ),
        (
            with_rule(when=[{"targets": ["args"], "op": "regex", "arg": "a(?=b)"}]),
            "does not compile under re2",
        ),
        (
            with_rule(when=[{"targets": ["args"], "op": "regex", "arg": "(unclosed"}]),
            "does not compile",
        ),
        (with_rule(id=1), "rule id 1 is used twice"),
        (with_rule(id=949110), "rule id 949110 is used twice"),
        (with_rule(action="explode"), "(id 2).action"),
        (with_rule(when=[]), "at least one `when` condition"),
        (with_rule(action="execute"), "`execute = <group>`"),
        (
            {**GOOD, "rules": [{"id": 1, "msg": "m", "action": "execute", "execute": "zz"}]},
            "unknown group 'zz'",
        ),
        ({**GOOD, "rules": []}, "rules: List should have at least 1 item"),
        (with_rule(when=[{"targets": ["ip"], "op": "rate", "arg": 5}]), "rate needs arg"),
        (
            with_rule(when=[{"targets": ["args"], "op": "detect_xss", "ignore": ["E*"]}]),
            "`ignore` (libinjection fingerprints) goes with op = detect_sqli",
        ),
        (
            with_rule(when=[{"targets": ["args"], "op": "detect_sqli", "ignore": ["*"]}]),
            "`ignore` needs fingerprints",
        ),
        (
            with_rule(same_value_as=[1], when=[{"targets": ["args"], "op": "detect_sqli"}]),
            "`same_value_as` needs exactly one `when` condition: regex or contains",
        ),
        (
            with_rule(
                same_value_as=[1],
                when=[
                    {"targets": ["args"], "op": "contains", "arg": "a"},
                    {"targets": ["args"], "op": "contains", "arg": "b"},
                ],
            ),
            "`same_value_as` needs exactly one `when` condition",
        ),
        (
            with_rule(same_value_as=[7], when=[{"targets": ["args"], "op": "regex", "arg": "a"}]),
            "rule 2: same_value_as names rule 7, which does not run before it",
        ),
    ],
)
def test_a_bad_document_names_the_rule_and_reason(doc: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_ruleset(json.dumps(doc), "pushed.json")
    assert str(e.value).startswith("pushed.json: ")
    assert message in str(e.value)


def test_not_a_document() -> None:
    with pytest.raises(ConfigError, match="x.toml: not a TOML or JSON ruleset"):
        parse_ruleset(b"[[[", "x.toml")


def test_a_directory_bundles_entry_and_class_files(tmp_path: Path) -> None:
    (tmp_path / "entry.toml").write_text(
        '[[rules]]\nid = 1\nmsg = "run"\naction = "execute"\nexecute = "managed"\n'
    )
    (tmp_path / "500-x.toml").write_text(
        'group = "managed"\n[[rules]]\nid = 500\nmsg = "x"\naction = "block"\n'
        '[[rules.when]]\ntargets = ["path"]\nop = "prefix"\narg = "/x"\n'
    )
    (tmp_path / "notes.txt").write_text("ignored")
    assert load_ruleset(tmp_path).ids() == {1, 500}
    assert bundle(tmp_path)["groups"]["managed"][0]["id"] == 500
    (tmp_path / "600-bad.toml").write_text("[[rules]]\n")
    with pytest.raises(ConfigError, match="600-bad.toml: a class file needs"):
        load_ruleset(tmp_path)


def test_a_document_file_loads_and_a_missing_one_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(GOOD))
    assert load_ruleset(f).ruleset.name == "t"
    with pytest.raises(ConfigError, match="nope.json: cannot read"):
        load_ruleset(tmp_path / "nope.json")


def test_named_rulesets() -> None:
    assert parse_ruleset(named_ruleset_document("managed"), "m").ruleset.name == "edgelab-managed"
    with pytest.raises(ConfigError, match="unknown"):
        named_ruleset_document("2099-01-01")


def test_salvage_keeps_the_rules_that_validate() -> None:
    doc = with_rule()
    doc["groups"]["g"].append(
        {
            "id": 3,
            "msg": "bad",
            "action": "block",
            "when": [{"targets": ["x"], "op": "regex", "arg": "a"}],
        }
    )
    ruleset, problems = salvage_ruleset(json.dumps(doc), "v2")
    assert ruleset.ids() == {1, 2}
    assert len(problems) == 1 and "unknown target" in problems[0]
    empty, problems = salvage_ruleset(b"garbage{", "v3")
    assert empty.ids() == set() and problems


def test_a_document_can_extend_the_managed_ruleset() -> None:
    doc = {
        "ruleset": {"name": "plus-one", "extends": "managed"},
        "groups": {
            "managed": [
                {
                    "id": 777,
                    "msg": "extra",
                    "action": "log",
                    "when": [{"targets": ["path"], "op": "prefix", "arg": "/x"}],
                }
            ]
        },
    }
    ruleset = parse_ruleset(json.dumps(doc), "plus-one.json")
    managed = parse_ruleset(named_ruleset_document("managed"), "managed")
    assert ruleset.ids() == managed.ids() | {777}
    assert ruleset.groups["managed"][-1].id == 777 and ruleset.ruleset.name == "plus-one"


def test_the_incident_file_is_a_pushable_document_as_it_stands() -> None:
    path = managed_dir() / "incidents" / "2019-07-02-regex.toml"
    assert named_ruleset_document("2019-07-02") == path.read_bytes()
    assert 100015 in parse_ruleset(path.read_bytes(), str(path)).ids()
