"""Named ways an artifact goes bad, as the incidents had them. Pure: bytes in, bytes out.

    bad = mutate(content, "duplicate-rows")   # every row twice (2025-11-18)
    MUTATIONS                                 # duplicate-rows, truncate, oversize, invalid-syntax

- `duplicate-rows`: every row of the file's list appears twice, in the same order, as when the
  feature-file query on 2025-11-18 also returned the `r0` tables' columns. A 127-feature file
  becomes 254 features, over the bot module's limit of 200.
- `truncate`: the file is cut in half, mid-row, as a partially written or partially fetched file.
- `oversize`: the list grows to `OVERSIZE_FACTOR` times its rows, each copy with a distinct
  name or id (no duplicates for a validator to spot, only the count and the size).
- `invalid-syntax`: a line that no YAML or JSON parser accepts is inserted in the middle.

The list is the top-level list, or the first list value of a top-level mapping (`features`,
`rules`...). The result keeps the input's format: JSON in, JSON out; YAML in, YAML out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

OVERSIZE_FACTOR = 4


class MutationError(ValueError):
    """The mutation cannot be applied to this content (it has no list of rows)."""


def _parse(content: bytes) -> tuple[Any, bool]:
    text = content.decode("utf-8", errors="replace")
    is_json = text.lstrip()[:1] in ("[", "{")
    try:
        doc = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise MutationError(f"content does not parse, cannot find its rows: {e}") from e
    return doc, is_json


def _dump(doc: Any, is_json: bool) -> bytes:
    if is_json and isinstance(doc, list):  # one row per line, as the shipped files are
        return ("[\n" + ",\n".join(" " + json.dumps(row) for row in doc) + "\n]\n").encode()
    if is_json:
        return json.dumps(doc, indent=1).encode()
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200).encode()


def _with_rows(content: bytes, change: Callable[[list[Any]], list[Any]]) -> bytes:
    doc, is_json = _parse(content)
    if isinstance(doc, list):
        return _dump(change(doc), is_json)
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, list):
                return _dump({**doc, key: change(value)}, is_json)
    raise MutationError("content has no list of rows to mutate")


def duplicate_rows(content: bytes) -> bytes:
    return _with_rows(content, lambda rows: rows + rows)


def truncate(content: bytes) -> bytes:
    return content[: len(content) // 2]


def _renamed(row: Any, copy: int) -> Any:
    if copy == 0 or not isinstance(row, dict):
        return row
    for key in ("name", "id"):
        if key in row:
            return {**row, key: _distinct(row[key], copy)}
    return row


def _distinct(name: Any, copy: int) -> Any:
    """A new name for the copy; numeric names (a rate threshold) stay numbers."""
    try:
        number = float(name)
    except (TypeError, ValueError):
        return f"{name}~{copy}"
    shifted = number + copy * 1_000_000
    return str(shifted) if isinstance(name, str) else type(name)(shifted)


def oversize(content: bytes) -> bytes:
    return _with_rows(
        content,
        lambda rows: [_renamed(r, c) for c in range(OVERSIZE_FACTOR) for r in rows],
    )


def invalid_syntax(content: bytes) -> bytes:
    lines = content.decode("utf-8", errors="replace").splitlines(keepends=True)
    middle = len(lines) // 2
    broken = "\t- {{{ broken: [row\n"
    return "".join(lines[:middle] + [broken] + lines[middle:]).encode()


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "duplicate-rows": duplicate_rows,
    "truncate": truncate,
    "oversize": oversize,
    "invalid-syntax": invalid_syntax,
}


def mutate(content: bytes, mutation: str) -> bytes:
    """Apply the named mutation; raises MutationError (unknown name, or no rows to work on)."""
    fn = MUTATIONS.get(mutation)
    if fn is None:
        raise MutationError(f"unknown mutation {mutation!r} ({', '.join(MUTATIONS)})")
    return fn(content)
