"""summary.json against the JSON Schema shipped in the package."""

from __future__ import annotations

import json

import jsonschema
import pytest

from edgelab.report.render import ReportPaths
from edgelab.report.schema import generate_schema, load_schema


def validate(doc: object) -> None:
    jsonschema.validate(doc, load_schema(), cls=jsonschema.Draft202012Validator)


def test_shipped_schema_matches_the_model() -> None:
    assert load_schema() == generate_schema(), "regenerate: python -m edgelab.report.schema"
    jsonschema.Draft202012Validator.check_schema(load_schema())


@pytest.mark.parametrize("report", ["complete_report", "partial_report"])
def test_summary_json_is_valid(report: str, request: pytest.FixtureRequest) -> None:
    paths: ReportPaths = request.getfixturevalue(report)
    summary = json.loads(paths.json.read_text())
    validate(summary)
    assert summary["schema_version"] == 1
    assert summary["run"]["status"] == report.removesuffix("_report")


@pytest.mark.parametrize(
    ("where", "value"),
    [("availability_in_window", "high"), ("attack_source", "guess"), ("unknown_field", 1)],
)
def test_schema_rejects_a_broken_summary(
    complete_report: ReportPaths, where: str, value: object
) -> None:
    summary = json.loads(complete_report.json.read_text())
    summary["variants"][0][where] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(summary)
