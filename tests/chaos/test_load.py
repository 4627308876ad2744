"""Broken experiment files: every problem named with its field path, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from edgelab.chaos.load import load_experiment
from edgelab.chaos.model import Experiment
from edgelab.cli import main
from edgelab.errors import ConfigError
from tests.chaos.fixtures import SHORT


def write(tmp_path: Path, data: object, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith(".yaml") else json.dumps(data))
    return path


def with_(**changes: object) -> dict[str, object]:
    return {**SHORT, **changes}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"description": "no title"}, "title: Field required"),
        (with_(tilte="typo"), "tilte: Extra inputs are not permitted"),
        (with_(load={"duration_s": -1}), "load.duration_s: Input should be greater than 0"),
        (with_(load={"bypass": "teleport"}), "load.bypass: Value error, unknown bypass 'teleport'"),
        (
            with_(method=[{"name": "x", "provider": {"func": "edge.explode"}}]),
            "method.0.provider.func: unknown 'edge.explode'",
        ),
        (
            with_(
                method=[
                    {"name": "x", "provider": {"func": "edge.abort", "arguments": {"stauts": 500}}}
                ]
            ),
            "method.0.provider.arguments.stauts: not an argument of edge.abort",
        ),
        (
            with_(method=[{"name": "x", "provider": {"func": "edge.delay", "arguments": {}}}]),
            "method.0.provider.arguments: edge.delay needs 'delay_ms'",
        ),
        (
            with_(method=[{"name": "x", "at_s": 99, "provider": {"func": "edge.clear_faults"}}]),
            "is after the load ends",
        ),
        (
            with_(variants=[{"name": "a"}, {"name": "a"}]),
            "variant names must be unique; repeated: a",
        ),
        (with_(variants=[{"name": "a", "load": {"bypass": "warp"}}]), "variants.a: "),
        (
            with_(lab={"edge": {"bot": {"failure_policy": "explode"}}}),
            "lab.edge: bot.failure_policy",
        ),
        (
            with_(variants=[{"name": "h", "lab": {"edge": {"cahce": {}}}}]),
            "variants.h: lab.edge: cahce",
        ),
        (with_(load={"shape": {"kind": "zigzag"}}), "load.shape"),
        (
            with_(
                rollbacks=[
                    {
                        "name": "r",
                        "tolerance": {"min": 1},
                        "provider": {"func": "edge.clear_faults"},
                    }
                ]
            ),
            "tolerance is only for probes",
        ),
    ],
)
def test_broken_files_name_the_field(
    tmp_path: Path, data: dict[str, object], expected: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        load_experiment(path)
    assert str(path) in str(e.value)
    assert expected in str(e.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = with_(
        method=[
            {"name": "x", "provider": {"func": "nope.a"}},
            {"name": "y", "provider": {"func": "nope.b"}},
        ]
    )
    with pytest.raises(ConfigError) as e:
        load_experiment(write(tmp_path, data))
    assert "method.0" in str(e.value) and "method.1" in str(e.value)


def test_json_is_accepted(tmp_path: Path) -> None:
    assert load_experiment(write(tmp_path, SHORT, "exp.json")).title == SHORT["title"]


def test_variant_overlays_merge_deeply() -> None:
    exp = Experiment.model_validate(
        with_(
            lab={"edge": {"bot": {"failure_policy": "panic", "limit": 200}}},
            variants=[
                {"name": "hardened", "lab": {"edge": {"bot": {"failure_policy": "reject"}}}},
                {"name": "dns-failover", "load": {"bypass": "dns-failover"}},
            ],
        )
    )
    hardened = exp.for_variant("hardened")
    assert hardened.lab.edge == {"bot": {"failure_policy": "reject", "limit": 200}}
    assert exp.for_variant("dns-failover").load.bypass == "dns-failover"
    assert exp.load.bypass == "none"


def test_cli_validate_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, with_(load={"duration_s": "soon"}))
    with pytest.raises(SystemExit) as e:
        main(["chaos", "validate", str(path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "load.duration_s" in err and "Traceback" not in err


def test_cli_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    main(["chaos", "schema"])
    schema = json.loads(capsys.readouterr().out)
    assert "steady-state-hypothesis" in schema["properties"]
