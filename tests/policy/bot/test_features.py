from __future__ import annotations

import pytest

from edgelab.edge.stages.bot import default_feature_file
from edgelab.policy.bot.features import (
    DEFAULT_FEATURE_LIMIT,
    Feature,
    FeatureFileError,
    FeatureTable,
    parse_feature_file,
    validate,
)
from edgelab.policy.failure import ModulePanic


def test_the_shipped_file_is_good_and_doubles_past_the_limit() -> None:
    rows = parse_feature_file(default_feature_file())
    assert validate(rows, DEFAULT_FEATURE_LIMIT) == []
    assert len(rows) <= DEFAULT_FEATURE_LIMIT < 2 * len(rows)


@pytest.mark.parametrize(
    "content",
    [
        b'[{"name": "curl/", "kind": "ua_token", "weight": -40}]',
        b"- {name: curl/, kind: ua_token, weight: -40}\n",
        b'{"features": [{"name": "curl/", "kind": "ua_token", "weight": -40}]}',
    ],
)
def test_json_yaml_and_a_features_mapping_parse_alike(content: bytes) -> None:
    assert parse_feature_file(content) == [Feature("curl/", "ua_token", -40.0)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[{", "invalid syntax"),
        (b"- {name: [unclosed\n", "invalid syntax"),
        (b'{"a": 1}', "expected a list of features"),
        (b"[1]", "feature 0: expected a mapping"),
        (b'[{"kind": "ua_token", "weight": 1}]', "name must be a non-empty string"),
        (b'[{"name": "x", "kind": "magic", "weight": 1}]', "unknown kind 'magic'"),
        (b'[{"name": "x", "kind": "ua_token", "weight": "1"}]', "weight must be a number"),
        (b'[{"name": "x", "kind": "ua_token", "weight": true}]', "weight must be a number"),
        (b'[{"name": "fast", "kind": "rate_over", "weight": 1}]', "rate_over name"),
        (b'[{"name": "a", "kind": "header_order", "weight": 1}]', "'a<b'"),
        (b'[{"name": "a", "kind": "header_value", "weight": 1}]', "header:substring"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_files_say_what_is_wrong(content: bytes, message: str) -> None:
    with pytest.raises(FeatureFileError, match=message.replace("[", r"\[")):
        parse_feature_file(content)


def test_validate_refuses_over_the_limit_and_duplicate_rows() -> None:
    rows = [Feature(f"t{i}", "ua_token", 1.0) for i in range(3)]
    assert validate(rows, 3) == []
    assert validate(rows, 2) == ["3 features exceed the limit of 2"]
    assert validate(rows + rows[:1], 10) == ["1 duplicate feature rows"]


def test_a_table_preallocates_and_a_load_past_the_limit_fails_whole() -> None:
    table = FeatureTable(limit=3)
    rows = [Feature(f"t{i}", "ua_token", 1.0) for i in range(4)]
    ok = table.load(rows[:3])
    assert ok.ok and ok.unwrap() is table and len(table.features) == 3
    failed = FeatureTable(limit=3).load(rows)
    assert not failed.ok
    assert "feature 4 of 4 does not fit: limit is 3" in failed.error
    with pytest.raises(ModulePanic, match=r"called Result::unwrap\(\) on an Err value"):
        failed.unwrap()
