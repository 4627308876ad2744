"""The bot-management feature file: parse it, check it, load it into a preallocated table.

    rows = parse_feature_file(content)          # list[Feature]; raises FeatureFileError
    table = FeatureTable(limit=200)             # room for 200 features, allocated up front
    loaded = table.load(rows)                   # LoadResult: ok, or the error (never raises)
    loaded.unwrap()                             # the table, or raises ModulePanic (FL2)
    problems = validate(rows, limit=200)        # what hardened ingestion refuses (reject policy)

The file is a JSON (or YAML) list of features, each `{name, kind, weight}`:

    [
     {"name": "python-requests", "kind": "ua_token", "weight": -40},
     {"name": "accept-language", "kind": "header_absent", "weight": -16}
    ]

edgelab ships `features/default.json`: 127 features, well under the default limit of 200, so a
file with every row duplicated (254) is over it, as on 2025-11-18. It is JSON rather than YAML
because every POP parses each pushed version, and JSON parses in a fraction of a millisecond
where YAML takes about ten (benchmarks/control.py: propagation lag).

`kind` says which request signal the feature reads, `name` is its argument (a user-agent token,
a header name, a path fragment, a rate in requests per second...), `weight` is added to the
score when the feature matches. Kinds (see `edgelab.policy.bot.scoring`): `ua_token`,
`header_present`, `header_absent`, `header_order` (`a<b`: a is sent before b),
`header_value` (`header:substring`), `path_contains`, `method`, `rate_over` (rps).

Why a preallocated table: on 2025-11-18 the proxy's bot module reserved room for 200 features
(normal use ~60); a generator bug doubled the rows, loading overflowed the reservation, and
FL2's `Result::unwrap()` on that error panicked on every request (../shared/incidents.md #1).
`FeatureTable.load` reproduces that: it returns an error value, and what the module does with
it is the failure policy's choice (`edgelab.policy.failure`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from edgelab.policy.failure import ModulePanic

DEFAULT_FEATURE_LIMIT = 200
"""Hard limit of features the module preallocates room for (2025-11-18: 200)."""

FEATURE_KINDS = frozenset(
    {
        "ua_token",
        "header_present",
        "header_absent",
        "header_order",
        "header_value",
        "path_contains",
        "method",
        "rate_over",
    }
)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FeatureFileError(ValueError):
    """The feature file cannot be read as a list of features (syntax or shape)."""


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    kind: str
    weight: float


def parse_feature_file(content: bytes) -> list[Feature]:
    """Bytes -> features, in file order (duplicates kept); raises FeatureFileError."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FeatureFileError(f"not UTF-8 at byte {e.start}") from e
    try:
        doc = json.loads(text) if text.lstrip()[:1] in ("[", "{") else yaml.load(text, _Loader)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FeatureFileError(f"invalid syntax: {first}") from e
    if isinstance(doc, dict) and isinstance(doc.get("features"), list):
        doc = doc["features"]
    if not isinstance(doc, list):
        raise FeatureFileError("expected a list of features")
    rows: list[Feature] = []
    for i, row in enumerate(doc):
        rows.append(_feature(i, row))
    return rows


def _feature(i: int, row: Any) -> Feature:
    if not isinstance(row, dict):
        raise FeatureFileError(f"feature {i}: expected a mapping with name, kind, weight")
    name, kind, weight = row.get("name"), row.get("kind"), row.get("weight")
    if not isinstance(name, str) or not name:
        raise FeatureFileError(f"feature {i}: name must be a non-empty string")
    if kind not in FEATURE_KINDS:
        raise FeatureFileError(f"feature {i} ({name}): unknown kind {kind!r}")
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise FeatureFileError(f"feature {i} ({name}): weight must be a number")
    if kind == "rate_over":
        try:
            float(name)
        except ValueError as e:
            raise FeatureFileError(f"feature {i}: rate_over name must be a number") from e
    if kind == "header_order" and "<" not in name:
        raise FeatureFileError(f"feature {i} ({name}): header_order name is 'a<b'")
    if kind == "header_value" and ":" not in name:
        raise FeatureFileError(f"feature {i} ({name}): header_value name is 'header:substring'")
    return Feature(name=name, kind=str(kind), weight=float(weight))


def validate(rows: list[Feature], limit: int) -> list[str]:
    """What hardened ingestion refuses: over the limit, duplicate (kind, name) rows."""
    problems: list[str] = []
    if len(rows) > limit:
        problems.append(f"{len(rows)} features exceed the limit of {limit}")
    seen: set[tuple[str, str]] = set()
    dups = 0
    for f in rows:
        key = (f.kind, f.name)
        if key in seen:
            dups += 1
        seen.add(key)
    if dups:
        problems.append(f"{dups} duplicate feature rows")
    return problems


class FeatureLimitExceeded(Exception):
    """Loading would overflow the preallocated feature table."""


@dataclass(frozen=True)
class LoadResult:
    """A `Result`: the loaded table, or why it could not be loaded (nothing raised yet)."""

    table: FeatureTable | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.table is not None

    def unwrap(self) -> FeatureTable:
        """The table, or raise `ModulePanic` (FL2's `called Result::unwrap() on an Err value`)."""
        if self.table is None:
            raise ModulePanic(f"bot module: called Result::unwrap() on an Err value: {self.error}")
        return self.table


class FeatureTable:
    """Room for `limit` features, allocated at construction; `load` fills it or fails whole."""

    def __init__(self, limit: int = DEFAULT_FEATURE_LIMIT) -> None:
        self.limit = limit
        self._slots: list[Feature | None] = [None] * limit
        self.count = 0

    def load(self, rows: list[Feature]) -> LoadResult:
        """Fill the table with `rows`; a row past the limit fails the load (the table stays empty)."""
        try:
            for i, row in enumerate(rows):
                if i >= self.limit:
                    raise FeatureLimitExceeded(
                        f"feature {i + 1} of {len(rows)} does not fit: limit is {self.limit}"
                    )
                self._slots[i] = row
        except FeatureLimitExceeded as e:
            self._slots = [None] * self.limit
            return LoadResult(None, str(e))
        self.count = len(rows)
        return LoadResult(self)

    @property
    def features(self) -> list[Feature]:
        return [f for f in self._slots[: self.count] if f is not None]
