"""The JSON Schema of summary.json, shipped in the package for CI tools and editors.

    schema = load_schema()                       # the shipped file, as a dict
    python -m edgelab.report.schema              # regenerate it after changing model.Summary

The schema is generated from `edgelab.report.model.Summary` (field descriptions included); a
test fails when the shipped file and the model drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from edgelab.report.model import SUMMARY_SCHEMA, Summary

SCHEMA_FILE = "summary.schema.json"
SCHEMA_ID = f"https://edgelab.invalid/schemas/report-summary-v{SUMMARY_SCHEMA}.json"
"""A stable identifier, not a URL anything is fetched from."""


def generate_schema() -> dict[str, Any]:
    """The schema as `Summary` defines it now."""
    schema = Summary.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": f"edgelab report summary.json (schema_version {SUMMARY_SCHEMA})",
    }


def schema_text() -> str:
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The schema file shipped with the package."""
    text = resources.files("edgelab.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name(SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
