"""Rules as data: the ruleset document, its validation, and loading from files or artifacts.

    ruleset = load_default_ruleset()                   # the managed ruleset shipped with edgelab
    ruleset = parse_ruleset(artifact.content, "waf-rules v7")   # TOML or JSON bytes
    ruleset.rule(942100).msg

A ruleset has entry rules (run in order) and named groups of rules that an `execute` rule runs,
the shape of managed rulesets at real CDNs: the shipped entry is "execute the managed group"
then "execute the internal test group" (the kind of rule 2025-12-05's killswitch hit).

On disk the managed ruleset is a directory: `entry.toml` (`[ruleset]` and the entry rules) plus
one file per attack class (`942-sqli.toml` ...), each naming the group its rules join. A pushed
artifact or a `rules_file` is one self-contained document: `[ruleset]`, `[[rules]]` (entry) and
`[[groups.<name>]]`; `bundle()` turns a directory (plus extra class files) into one.

    [[rules]]
    id = 942100
    msg = "SQL injection (libinjection)"
    phase = "body"          # headers | body (body-phase rules also see query args)
    action = "score"        # block | log | allow | score | execute
    severity = "critical"   # critical 5, error 4, warning 3, notice 2 anomaly points
    paranoia = 1
    same_value_as = []      # rule ids: count only on a value one of them matched (a chain)
    [[rules.when]]          # every condition must hold; within one, any value may match
    targets = ["args", "cookies"]
    transforms = ["url_decode_repeat"]
    op = "detect_sqli"
    ignore = ["E*"]         # detect_sqli: libinjection fingerprints not counted (* = prefix)
    [[rules.cases]]         # the rule's own tests: requests it must fire on or let pass
    expect = "fire"
    query = "id=1%27%20or%20%271%27=%271"

A document may also carry `[[exclusions]]` (per-site rule exclusions, as the edge config's
`waf.exclusions`; see `edgelab.policy.waf.exclusions`). Every id is unique across the whole
ruleset; a bad document raises `ConfigError` naming the source, the rule id and the field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgelab.config.load import describe_validation_error
from edgelab.errors import ConfigError
from edgelab.policy.waf.exclusions import Exclusion, check_known
from edgelab.policy.waf.operators import OPERATORS, compile_operator
from edgelab.policy.waf.regex import REGEX_ENGINES
from edgelab.policy.waf.request import is_target
from edgelab.policy.waf.transforms import TRANSFORMS

Phase = Literal["headers", "body"]
Action = Literal["block", "log", "allow", "score", "execute"]
Severity = Literal["critical", "error", "warning", "notice"]
SEVERITY_SCORE: dict[str, int] = {"critical": 5, "error": 4, "warning": 3, "notice": 2}
"""Anomaly points per severity, as in OWASP CRS."""
MANAGED_DIR = "rulesets"
"""Package directory (in `edgelab.policy.waf`) of the shipped managed ruleset."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Frozen):
    """More than `limit` requests per `window_s` per key (fixed windows)."""

    limit: int = Field(gt=0)
    window_s: float = Field(gt=0)


class Condition(_Frozen):
    """One match condition: targets -> transforms -> operator (any value that matches)."""

    targets: list[str] = Field(min_length=1)
    """Where to look (see `edgelab.policy.waf.request`); for `rate`, the key (`ip`, `path`,
    `header:<name>`)."""
    transforms: list[str] = []
    op: str
    arg: str | int | list[str] | RateLimit | None = None
    negate: bool = False
    """Match the values the operator does NOT match (`method` not in the allowed list)."""
    ignore: list[str] = []
    """`detect_sqli` only: libinjection fingerprints this condition does not count, exact
    (`Eoknk`) or, with a trailing `*`, by prefix (`E*`: the value starts as a whole SQL
    statement, as code quoted in a post does; an injection breaks out of a string or a number
    first). Empty (the default): every fingerprint libinjection flags counts."""

    @model_validator(mode="after")
    def _known(self) -> Condition:
        if self.ignore and self.op != "detect_sqli":
            raise ValueError("`ignore` (libinjection fingerprints) goes with op = detect_sqli")
        if any(not f or f == "*" for f in self.ignore):
            raise ValueError("`ignore` needs fingerprints, not empty strings or a bare `*`")
        bad = [t for t in self.targets if not is_target(t)]
        if bad:
            raise ValueError(f"unknown target {bad[0]!r}")
        bad = [t for t in self.transforms if t not in TRANSFORMS]
        if bad:
            raise ValueError(f"unknown transform {bad[0]!r} (known: {', '.join(TRANSFORMS)})")
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r} (known: {', '.join(OPERATORS)})")
        if self.op == "rate":
            if not isinstance(self.arg, RateLimit):
                raise ValueError("rate needs arg = {limit = N, window_s = S}")
        else:
            for engine in REGEX_ENGINES:  # a rule must work under both engines
                compile_operator(self.op, self.arg, engine)
        return self


class Case(_Frozen):
    """A request the rule must fire on (`expect = "fire"`) or must let pass."""

    expect: Literal["fire", "pass"]
    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: dict[str, str] = {}
    body: str | None = None
    ip: str = "198.51.100.7"
    repeat: int = Field(1, ge=1)
    """Send it this many times (rate rules); the expectation is about the last one."""


class Rule(_Frozen):
    id: int = Field(ge=1, le=999_999)
    msg: str
    phase: Phase = "body"
    action: Action
    severity: Severity = "critical"
    paranoia: int = Field(1, ge=1, le=4)
    tags: list[str] = []
    execute: str | None = None
    """The group an `execute` rule runs."""
    when: list[Condition] = []
    """All must hold; an empty list always matches (usual for `execute`)."""
    same_value_as: list[int] = []
    """Rule ids (run earlier) of which one must have matched this request on the very value
    this rule matches (`args:q`, `header:referer`...) for it to count: a confirming signal
    that adds its points where the signal it confirms is, not for text elsewhere in the
    request (a "chain" on one value). Needs exactly one `when` condition, a `regex` or
    `contains` one. Empty (the default): the rule counts wherever it matches."""
    cases: list[Case] = []

    @model_validator(mode="after")
    def _execute(self) -> Rule:
        if (self.action == "execute") != (self.execute is not None):
            raise ValueError("`execute = <group>` goes with action = execute, and only with it")
        if not self.when and self.action != "execute":
            raise ValueError("a rule needs at least one `when` condition")
        if self.same_value_as and (
            len(self.when) != 1
            or self.when[0].op not in ("regex", "contains")
            or self.when[0].negate
        ):
            raise ValueError(
                "`same_value_as` needs exactly one `when` condition: regex or contains"
            )
        return self

    @property
    def score(self) -> int:
        return SEVERITY_SCORE[self.severity]


class RulesetMeta(_Frozen):
    name: str = "custom"
    anomaly_rule_id: int = Field(949110, ge=1, le=999_999)
    """The rule id a block on the anomaly score names (CRS 949110)."""
    extends: Literal["managed"] | None = None
    """`managed`: this document adds to the shipped managed ruleset (its entry rules and groups
    first, then this document's), so a pushed file can carry just one new rule."""


class Ruleset(_Frozen):
    """A whole ruleset: entry rules, groups for `execute`, unique ids."""

    ruleset: RulesetMeta = RulesetMeta()
    rules: list[Rule] = Field(min_length=1)
    groups: dict[str, list[Rule]] = {}
    exclusions: list[Exclusion] = []
    """Per-site rule exclusions this document carries (`edgelab.policy.waf.exclusions`), on top
    of the edge config's `waf.exclusions`; they must name rules and tags of this ruleset."""

    @model_validator(mode="after")
    def _consistent(self) -> Ruleset:
        seen: set[int] = {self.ruleset.anomaly_rule_id}
        for rule in self.all_rules():
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id} is used twice")
            seen.add(rule.id)
            if rule.execute is not None and rule.execute not in self.groups:
                raise ValueError(f"rule {rule.id}: execute names unknown group {rule.execute!r}")
            unknown = [i for i in rule.same_value_as if i not in seen]
            if unknown:
                raise ValueError(
                    f"rule {rule.id}: same_value_as names rule {unknown[0]}, which does not run "
                    "before it"
                )
        for name, rules in self.groups.items():
            if any(r.action == "execute" for r in rules):
                raise ValueError(f"group {name!r}: execute rules belong in the entry list")
        check_known(self.exclusions, self, "exclusions")
        return self

    def all_rules(self) -> Iterator[Rule]:
        yield from self.rules
        for rules in self.groups.values():
            yield from rules

    def rule(self, rule_id: int) -> Rule:
        for r in self.all_rules():
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def ids(self) -> set[int]:
        return {r.id for r in self.all_rules()}


def parse_ruleset(content: bytes | str, source: str) -> Ruleset:
    """A ruleset document (JSON if it starts with `{`, else TOML); raises ConfigError."""
    return _validate(_decode(content, source), source)


def _decode(content: bytes | str, source: str) -> Any:
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    try:
        if text.lstrip().startswith("{"):
            return json.loads(text)
        return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: not a TOML or JSON ruleset: {e}") from e


def _validate(data: Any, source: str) -> Ruleset:
    try:
        return Ruleset.model_validate(_extended(data))
    except ValidationError as e:
        raise ConfigError(_name_rules(describe_validation_error(source, e), data)) from e


def _extended(data: Any) -> Any:
    """`[ruleset] extends = "managed"`: the managed document with this one's rules appended."""
    meta = data.get("ruleset") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or meta.get("extends") != "managed":
        return data
    base = bundle(managed_dir())
    groups = {name: list(rules) for name, rules in base["groups"].items()}
    extra = data.get("groups")
    for name, rules in extra.items() if isinstance(extra, dict) else []:
        groups.setdefault(name, []).extend(rules if isinstance(rules, list) else [rules])
    own = data.get("rules")
    rules = list(base["rules"]) + (own if isinstance(own, list) else [])
    return {**data, "rules": rules, "groups": groups}


def _name_rules(message: str, data: Any) -> str:
    """`rules.3.when.0.op` -> `rules.3 (id 942100).when.0.op`: people know rules by id."""
    if not isinstance(data, dict):
        return message
    out = message
    for key, rules in [("rules", data.get("rules"))] + [
        (f"groups.{g}", r) for g, r in (data.get("groups") or {}).items()
    ]:
        if not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            if isinstance(rule, dict) and "id" in rule:
                out = out.replace(f"{key}.{i}.", f"{key}.{i} (id {rule['id']}).")
                out = out.replace(f"{key}.{i}:", f"{key}.{i} (id {rule['id']}):")
    return out


@dataclass(frozen=True)
class ClassFile:
    """One attack-class file on disk: the group its rules join, and the rules."""

    path: Path
    group: str
    rules: list[dict[str, Any]]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e


def read_class_file(path: Path) -> ClassFile:
    data = _read_toml(path)
    group, rules = data.get("group"), data.get("rules")
    if not isinstance(group, str) or not isinstance(rules, list):
        raise ConfigError(f'{path}: a class file needs `group = "<name>"` and [[rules]]')
    extra = set(data) - {"group", "rules", "description"}
    if extra:
        raise ConfigError(f"{path}: unknown key {sorted(extra)[0]!r}")
    return ClassFile(path, group, rules)


def bundle(directory: Path, extra: Iterable[Path] = ()) -> dict[str, Any]:
    """One self-contained document (JSON-ready) from `entry.toml` + class files in `directory`
    (sorted by name, so `913-...` runs before `942-...`), then `extra` class files appended."""
    entry = _read_toml(directory / "entry.toml")
    groups: dict[str, list[dict[str, Any]]] = {
        name: list(rules) for name, rules in (entry.get("groups") or {}).items()
    }
    for path in [*sorted(directory.glob("[0-9]*.toml")), *extra]:
        cf = read_class_file(path)
        groups.setdefault(cf.group, []).extend(cf.rules)
    return {**entry, "groups": groups}


def load_ruleset(path: Path) -> Ruleset:
    """A ruleset from a document file or a directory (entry.toml + class files)."""
    if path.is_dir():
        return _validate(bundle(path), str(path))
    try:
        content = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    return parse_ruleset(content, str(path))


def managed_dir() -> Path:
    """Where the shipped managed ruleset lives (a real directory: the package is not zipped)."""
    return Path(str(resources.files("edgelab.policy.waf") / MANAGED_DIR))


_DEFAULT: Ruleset | None = None


def load_default_ruleset() -> Ruleset:
    """The managed ruleset shipped with edgelab (parsed once per process; it is immutable)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_ruleset(managed_dir())
    return _DEFAULT


INCIDENT_2019_FILE = "incidents/2019-07-02-regex.toml"
NAMED_RULESETS = {
    "managed": None,
    "2019-07-02": INCIDENT_2019_FILE,
}
"""Rulesets a chaos action can push by name: the managed one, and the managed one plus an
incident's rule (the 2019-07-02 catastrophic regex, in simulate/log mode as it shipped). The
incident file is itself a pushable document (`extends = "managed"`)."""


def incident_2019_pattern() -> str:
    """The catastrophic-backtracking regex of 2019-07-02, as shipped in its incident file."""
    doc = _read_toml(managed_dir() / INCIDENT_2019_FILE)
    return str(doc["groups"]["managed"][0]["when"][0]["arg"])


def named_ruleset_document(name: str) -> bytes:
    """The `waf-rules` artifact content for a named ruleset; raises ConfigError."""
    if name not in NAMED_RULESETS:
        known = ", ".join(NAMED_RULESETS)
        raise ConfigError(f"waf ruleset {name!r}: unknown (known: {known})")
    incident = NAMED_RULESETS[name]
    if incident is not None:
        return (managed_dir() / incident).read_bytes()
    return json.dumps(bundle(managed_dir())).encode()


def salvage_ruleset(content: bytes | str, source: str) -> tuple[Ruleset, list[str]]:
    """What `degrade` runs on a bad document: every rule that validates on its own, the rest
    dropped (with one line each saying why). Nothing parseable gives an empty ruleset."""
    try:
        data = _decode(content, source)
    except ConfigError as e:
        return Ruleset.model_construct(ruleset=RulesetMeta(), rules=[], groups={}), [str(e)]
    problems: list[str] = []
    seen: set[int] = set()

    def keep(raw: Any, where: str) -> list[Rule]:
        out: list[Rule] = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            try:
                rule = Rule.model_validate(item)
            except ValidationError as e:
                problems.append(describe_validation_error(f"{source}: {where}.{i}", e))
                continue
            if rule.id in seen:
                problems.append(f"{source}: {where}.{i}: rule id {rule.id} is used twice")
                continue
            seen.add(rule.id)
            out.append(rule)
        return out

    doc = data if isinstance(data, dict) else {}
    try:
        meta = RulesetMeta.model_validate(doc.get("ruleset", {}))
    except ValidationError:
        meta = RulesetMeta()
    raw_groups = doc.get("groups")
    groups = {
        str(name): [r for r in keep(rules, f"groups.{name}") if r.action != "execute"]
        for name, rules in (raw_groups.items() if isinstance(raw_groups, dict) else [])
    }
    entry = [r for r in keep(doc.get("rules"), "rules") if r.execute is None or r.execute in groups]
    return Ruleset.model_construct(ruleset=meta, rules=entry, groups=groups), problems
