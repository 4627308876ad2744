"""The example files in loadtests/examples/ are valid (they are what the README points to)."""

from __future__ import annotations

from pathlib import Path

from edgelab.config.load import load_model
from edgelab.loadgen.shapes import CsvShape, StepSurge, parse_shape
from edgelab.loadgen.targets import load_targets
from edgelab.steering.config import SteeringConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "loadtests" / "examples"


def test_targets_example() -> None:
    targets = load_targets(EXAMPLES / "targets.json")
    assert targets.bypass == "dns-failover" and len(targets.cdn_a) == 2


def test_steering_example_matches_the_targets() -> None:
    config = load_model(EXAMPLES / "steering.yaml", SteeringConfig)
    targets = load_targets(EXAMPLES / "targets.json")
    assert [t.name for t in config.services["www"]] == ["cdn-a", "cdn-b", "origin"]
    assert set(config.urls()) == {*targets.cdn_a, *targets.cdn_b, targets.origin}


def test_shape_examples() -> None:
    csv = parse_shape(str(EXAMPLES / "surge.csv"))
    step = parse_shape(str(EXAMPLES / "shape-step.yaml"))
    assert isinstance(csv, CsvShape) and isinstance(step, StepSurge)
    for t in (0.0, 25.0, 55.0):
        a, b = csv.at(t), step.at(t)
        assert a is not None and b is not None and a[0] == b[0]  # the same surge, two ways
    assert csv.at(60.0) is None and step.at(60.0) is None
