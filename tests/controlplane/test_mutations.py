from __future__ import annotations

import json

import pytest
import yaml

from edgelab.controlplane.mutations import MUTATIONS, OVERSIZE_FACTOR, MutationError, mutate
from edgelab.edge.stages.bot import default_feature_file
from edgelab.policy.bot.features import FeatureFileError, parse_feature_file, validate

GOOD = default_feature_file()
ROWS = parse_feature_file(GOOD)
YAML_GOOD = yaml.safe_dump(json.loads(GOOD), default_flow_style=None).encode()


@pytest.mark.parametrize("content", [GOOD, YAML_GOOD], ids=["json", "yaml"])
def test_duplicate_rows_doubles_every_row_past_the_limit(content: bytes) -> None:
    rows = parse_feature_file(mutate(content, "duplicate-rows"))
    assert rows == ROWS + ROWS
    assert validate(rows, 200) == [
        f"{2 * len(ROWS)} features exceed the limit of 200",
        f"{len(ROWS)} duplicate feature rows",
    ]


def test_oversize_grows_the_count_without_duplicates() -> None:
    rows = parse_feature_file(mutate(GOOD, "oversize"))
    assert len(rows) == OVERSIZE_FACTOR * len(ROWS)
    assert validate(rows, 10_000) == []


@pytest.mark.parametrize("mutation", ["truncate", "invalid-syntax"])
@pytest.mark.parametrize("content", [GOOD, YAML_GOOD], ids=["json", "yaml"])
def test_truncated_and_broken_files_do_not_parse(mutation: str, content: bytes) -> None:
    with pytest.raises(FeatureFileError, match="invalid syntax"):
        parse_feature_file(mutate(content, mutation))


def test_rows_under_a_mapping_key_and_other_kinds() -> None:
    waf = json.dumps({"version": 3, "rules": [{"id": 1}, {"id": 2}]}).encode()
    assert json.loads(mutate(waf, "duplicate-rows"))["rules"] == [{"id": i} for i in (1, 2, 1, 2)]
    assert json.loads(mutate(waf, "oversize"))["rules"][2] == {"id": 1_000_001}


def test_unknown_mutations_and_files_without_rows_are_refused() -> None:
    with pytest.raises(MutationError, match="unknown mutation 'scramble'"):
        mutate(GOOD, "scramble")
    with pytest.raises(MutationError, match="no list of rows"):
        mutate(b'{"modules": {"bot": false}}', "duplicate-rows")
    with pytest.raises(MutationError, match="does not parse"):
        mutate(b"[{", "oversize")
    assert set(MUTATIONS) == {"duplicate-rows", "truncate", "oversize", "invalid-syntax"}
