"""File -> validated pydantic model, or one `ConfigError` line naming the file, field and reason.

    profile = load_model(Path("origin.yaml"), OriginProfile)

Every edgelab file (origin profiles, edge config, lab files, experiments) goes through here, so
every user mistake reads the same way:

    origin.yaml: capacity.workers: Input should be greater than 0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from edgelab.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def describe_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem, each `source: field.path: reason`; the first line leads."""
    lines = [f"{source}: {_field_path(e['loc'])}: {e['msg']}" for e in err.errors()]
    return "\n".join(lines)


def parse_model(data: Any, model: type[M], source: str) -> M:
    """Validate already-parsed data; `source` names it in errors (a file or a flag)."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(describe_validation_error(source, e)) from e


def read_document(path: Path) -> Any:
    """Read YAML or JSON (JSON is YAML) from `path`; raises ConfigError on I/O or syntax."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from e


def load_model(path: Path, model: type[M]) -> M:
    """Read and validate `path` as `model`; raises ConfigError naming file, field and reason."""
    return parse_model(read_document(path), model, str(path))
