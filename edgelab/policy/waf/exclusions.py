"""Per-site rule exclusions: which rules, on which values, a site has switched off for which
requests (ModSecurity/CRS `ctl:ruleRemoveById` and `ruleRemoveTargetById`, a CDN's WAF
exceptions). Pure: the engine asks, per request, and hides the named values from those rules.

    ex = Exclusion(rules=(941100,), path_prefix="/community/posts", targets=("args:body",))
    excl = ExclusionSet.build([ex], ruleset)
    skips = excl.for_request(WafRequest.build("POST", "/community/posts/new", "", {}))
    skips.rules[941100].hides("args:body")     # True: rule 941100 does not see this value here
    skips.rules[941100].hides("args:title")    # False: it still sees every other value
    excl.for_request(WafRequest.build("POST", "/search", "", {}))   # None: nothing applies

An exclusion names rules by id or by tag (`sqli`, `xss`, `lfi`, `rce`, `scanner`, `protocol`)
and applies to requests by path prefix, method and host; with no `targets` the rules do not run
at all for those requests, with targets they run on everything else. Targets are named as the
engine names values (`edgelab.policy.waf.request`): `args:<name>` (query, form, multipart or
JSON field; JSON fields by dotted path, `args:content.html`), `header:<name>`,
`cookies:<name>`, `files:<field>` (an upload's file name), or a whole target (`body`, `path`,
`query`, `uri`, `args_names`, `header_names`, `cookie_names`); a trailing `*` is a prefix
(`args:content.*`). `json:`, `headers:` and `cookie:` are accepted for `args:`, `header:` and
`cookies:`. Hiding `args:q` does not hide the raw `query` or `uri` a rule may also read (as in
ModSecurity, where ARGS and REQUEST_URI are different variables).

The path must start with the prefix as sent and still be under it decoded, with dot segments
resolved; a path an exclusion could be smuggled through (still percent-encoded after one
decoding, a backslash, a `;` parameter, a NUL, `..` above the root) gets no exclusion at all:
the full ruleset inspects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from edgelab.policy.waf.request import WafRequest

if TYPE_CHECKING:
    from edgelab.policy.waf.rules import Rule, Ruleset

NAMED_TARGETS = ("args:", "header:", "cookies:", "files:")
"""Targets that name one value (or, with a trailing `*`, values by prefix)."""
WHOLE_TARGETS = (
    "args_names",
    "body",
    "cookie_names",
    "header_names",
    "path",
    "query",
    "uri",
)
"""Targets hidden whole (every value the engine takes from them)."""
TARGET_ALIASES = {"json:": "args:", "headers:": "header:", "cookie:": "cookies:"}
"""Other spellings people use (CRS's REQUEST_HEADERS, a JSON field), as the engine names them."""


def canonical_target(spec: str) -> str:
    """`spec` as the engine names values (`headers:X-Api-Key` -> `header:x-api-key`); raises
    ValueError naming what is wrong with it."""
    for alias, name in TARGET_ALIASES.items():
        if spec.startswith(alias):
            spec = name + spec[len(alias) :]
    if spec in WHOLE_TARGETS:
        return spec
    prefix = next((p for p in NAMED_TARGETS if spec.startswith(p)), None)
    if prefix is None:
        known = ", ".join([f"{p}<name>" for p in NAMED_TARGETS] + list(WHOLE_TARGETS))
        raise ValueError(f"unknown target {spec!r} (known: {known})")
    name = spec[len(prefix) :]
    if not name:
        raise ValueError(f"target {spec!r} names no value (`{prefix}<name>`, or `{prefix}*`)")
    if "*" in name[:-1]:
        raise ValueError(f"target {spec!r}: `*` may only end a name (a prefix)")
    return prefix + (name.lower() if prefix == "header:" else name)


class Exclusion(BaseModel):
    """Some rules off, for some requests, on some values (or on all of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[int, ...] = ()
    """Rule ids excluded (an `execute` rule's id stands for every rule of its group)."""
    tags: tuple[str, ...] = ()
    """Rules carrying any of these tags are excluded too (`xss`: every XSS rule). At least
    one id or one tag is needed."""
    path_prefix: str | None = None
    """Only requests whose path (decoded, dot segments resolved) is this or under it, at a
    segment boundary (`/forum/posts` covers `/forum/posts/7`, not `/forum/postscript`);
    `None` (the default): every path."""
    methods: tuple[str, ...] = ()
    """Only these methods (`POST`, `PUT`...); empty (the default): every method."""
    hosts: tuple[str, ...] = ()
    """Only these hosts (the Host header without its port), exact or `*.example.com` for
    its subdomains; empty (the default): every host."""
    targets: tuple[str, ...] = ()
    """Only these values are hidden from the rules (see the module docstring for the names);
    empty (the default): the rules do not run at all for these requests."""
    note: str = ""
    """Why (for the people who read the config); the engine does not read it."""

    @field_validator("targets")
    @classmethod
    def _targets(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(canonical_target(t) for t in targets)

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m.upper() for m in methods)

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        if any(not h or "*" in h.removeprefix("*.") for h in hosts):
            raise ValueError("a host is a name, or `*.` and a name (its subdomains)")
        return tuple(h.lower() for h in hosts)

    @field_validator("path_prefix")
    @classmethod
    def _path(cls, prefix: str | None) -> str | None:
        if prefix is not None and not prefix.startswith("/"):
            raise ValueError(f"path_prefix {prefix!r} must start with `/`")
        return prefix

    @model_validator(mode="after")
    def _some_rule(self) -> Exclusion:
        if not self.rules and not self.tags:
            raise ValueError("an exclusion names at least one rule id (`rules`) or tag (`tags`)")
        return self


def check_known(exclusions: Sequence[Exclusion], ruleset: Ruleset, field: str) -> None:
    """Raises ValueError naming `field.<i>.rules` (or `.tags`; `<i>.rules` when `field` is "")
    when an exclusion names a rule id that is not in `ruleset`, or a tag no rule carries: a
    typo must not pass silently."""
    field = f"{field}." if field else ""
    ids = ruleset.ids()
    tags = {t for r in ruleset.all_rules() for t in r.tags}
    for i, ex in enumerate(exclusions):
        unknown = [r for r in ex.rules if r not in ids]
        if unknown:
            raise ValueError(f"{field}{i}.rules: unknown rule id {unknown[0]}")
        missing = [t for t in ex.tags if t not in tags]
        if missing:
            raise ValueError(
                f"{field}{i}.tags: no rule has tag {missing[0]!r} (tags: {', '.join(sorted(tags))})"
            )


@dataclass(frozen=True)
class Hidden:
    """The values one rule does not see in one request: by exact name or by prefix."""

    exact: frozenset[str]
    prefixes: tuple[str, ...] = ()
    holders: frozenset[str] = frozenset()
    """The targets whose values can be hidden ones (`args:q` is among `args`, `query_args`
    and `body_args`; `header:x` among `headers` and `header:<name>` targets); the rest of a
    request's values need no filtering."""

    def hides(self, where: str) -> bool:
        """Whether the value the engine names `where` (`args:q`) is hidden."""
        return where in self.exact or where.startswith(self.prefixes)

    def holds(self, target: str) -> bool:
        """Whether `target`'s values may include hidden ones."""
        return target in self.holders or (
            target.startswith("header:") and "headers" in self.holders
        )

    def union(self, other: Hidden) -> Hidden:
        return Hidden(
            self.exact | other.exact, self.prefixes + other.prefixes, self.holders | other.holders
        )

    @staticmethod
    def of(targets: Iterable[str]) -> Hidden:
        """From canonical target names (`args:content.*` is a prefix)."""
        names = list(targets)
        exact = frozenset(t for t in names if not t.endswith("*"))
        return Hidden(exact, tuple(t[:-1] for t in names if t.endswith("*")), _holders(names))


_HOLDERS: Final = {
    "args:": ("args", "query_args", "body_args"),
    "header:": ("headers",),
    "cookies:": ("cookies",),
    "files:": ("files",),
}


def _holders(targets: Iterable[str]) -> frozenset[str]:
    """The targets that hold values named by `targets` (see `Hidden.holders`)."""
    out: set[str] = set()
    for t in targets:
        named = next((p for p in _HOLDERS if t.startswith(p)), None)
        out.update(_HOLDERS[named] if named is not None else (t,))
    return frozenset(out)


class RequestSkips:
    """What exclusions take off for one request in one phase: per rule id excluded, the values
    it does not see, or None (it does not run); and the request as those rules see it."""

    def __init__(
        self, rules: dict[int, Hidden | None], held: Callable[[Hidden], tuple[str, ...]]
    ) -> None:
        self.rules = rules
        self._held = held
        self._views: dict[Hidden, WafRequest] = {}

    def view(self, req: WafRequest, hidden: Hidden) -> WafRequest:
        """`req` without the `hidden` values (`hide`), made once per phase for all the rules
        that hide the same values."""
        view = self._views.get(hidden)
        if view is None:
            view = self._views[hidden] = hide(req, self._held(hidden), hidden)
        return view


@dataclass(frozen=True)
class _Compiled:
    rule_ids: frozenset[int]
    path_prefix: str | None
    methods: frozenset[str]
    hosts: tuple[str, ...]
    wildcard_hosts: tuple[str, ...]
    hidden: Hidden | None


class ExclusionSet:
    """Exclusions resolved against one ruleset (tags and groups to rule ids)."""

    def __init__(self, compiled: Sequence[_Compiled], read: Iterable[str]) -> None:
        self._compiled = tuple(compiled)
        self._read = tuple(sorted(set(read)))
        """Every target the ruleset's rules read (what a view of a request filters)."""
        prefixes = [ex.path_prefix for ex in self._compiled]
        self._prefixes: tuple[str, ...] | None = (
            None if None in prefixes else tuple(p.rstrip("/") for p in prefixes if p is not None)
        )
        """Every exclusion's path prefix, when each has one: a path that starts with none of
        them is turned away with one test."""
        self._last: tuple[WafRequest | None, dict[int, Hidden | None] | None] = (None, None)
        """The last request asked about and its answer (both phases of a request ask)."""
        self._held: dict[Hidden, tuple[str, ...]] = {}
        """Per hidden set, the targets the rules read that can hold its values."""

    def held(self, hidden: Hidden) -> tuple[str, ...]:
        """The targets rules read whose values may be `hidden` ones (kept once computed)."""
        found = self._held.get(hidden)
        if found is None:
            found = self._held[hidden] = tuple(t for t in self._read if hidden.holds(t))
        return found

    @staticmethod
    def build(exclusions: Iterable[Exclusion], ruleset: Ruleset) -> ExclusionSet | None:
        """The set, or None when there is nothing to exclude. Ids and tags not in `ruleset`
        match nothing (a pushed ruleset may have dropped a rule: `check_known` is for load)."""
        out = [_compile(ex, ruleset) for ex in exclusions]
        if not out:
            return None
        read = [t for r in ruleset.all_rules() for c in r.when if c.op != "rate" for t in c.targets]
        return ExclusionSet(out, read)

    def for_request(self, req: WafRequest) -> RequestSkips | None:
        """What is excluded for `req` (None: nothing, as for most requests); a new answer per
        call (its views are of the request as it is now), the matching done once per request."""
        last, rules = self._last
        if last is not req:
            rules = self._match(req)
            self._last = (req, rules)
        return None if rules is None else RequestSkips(rules, self.held)

    def _match(self, req: WafRequest) -> dict[int, Hidden | None] | None:
        prefixes = self._prefixes
        if prefixes is not None and not req.path.startswith(prefixes):
            return None
        skips: dict[int, Hidden | None] | None = None
        path: str | None = ""
        for ex in self._compiled:
            prefix = ex.path_prefix
            if prefix is not None and not req.path.startswith(prefix.rstrip("/")):
                continue  # cheap first: most requests are nowhere near an excluded path
            if ex.methods and req.method.upper() not in ex.methods:
                continue
            if ex.hosts or ex.wildcard_hosts:
                host = _host(req.header("host") or "")
                if host not in ex.hosts and not host.endswith(ex.wildcard_hosts):
                    continue
            if prefix is not None:
                if path == "":
                    path = normalized_path(req.path)
                if path is None or not _under(path, prefix):
                    continue
            if skips is None:
                skips = {}
            for rule_id in ex.rule_ids:
                if rule_id in skips:
                    before = skips[rule_id]
                    skips[rule_id] = (
                        None if before is None or ex.hidden is None else before.union(ex.hidden)
                    )
                else:
                    skips[rule_id] = ex.hidden
        return skips


def _compile(ex: Exclusion, ruleset: Ruleset) -> _Compiled:
    ids: set[int] = set()
    wanted_tags = set(ex.tags)
    groups = ruleset.groups
    for rule in ruleset.all_rules():
        if rule.id in ex.rules or wanted_tags.intersection(rule.tags):
            ids.update(_members(rule, groups))
    return _Compiled(
        frozenset(ids),
        ex.path_prefix,
        frozenset(ex.methods),
        tuple(h for h in ex.hosts if not h.startswith("*.")),
        tuple(h[1:] for h in ex.hosts if h.startswith("*.")),
        Hidden.of(ex.targets) if ex.targets else None,
    )


def _members(rule: Rule, groups: Mapping[str, Sequence[Rule]]) -> list[int]:
    """A rule's id, or for an `execute` rule its group's rule ids (what it runs)."""
    if rule.execute is None:
        return [rule.id]
    return [r.id for r in groups.get(rule.execute, ())]


def _host(value: str) -> str:
    """The Host header's name, lowercased, without a port (`[::1]:8080` -> `[::1]`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    return value.partition(":")[0]


def normalized_path(raw: str) -> str | None:
    """`raw` decoded once with `.` and `..` segments resolved and empty ones dropped, or None
    for a path no exclusion may apply to (see the module docstring)."""
    path = unquote(raw, errors="replace")
    if any(c in path for c in "%\\;\x00") or "\ufffd" in path:
        return None
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _under(path: str, prefix: str) -> bool:
    """`path` is `prefix` or below it, at a segment boundary (or anywhere below a prefix that
    ends with `/`)."""
    if prefix.endswith("/"):
        return path.startswith(prefix) or path == prefix[:-1]
    return path == prefix or path.startswith(prefix + "/")


def hide(req: WafRequest, held: Iterable[str], hidden: Hidden) -> WafRequest:
    """A view of `req` in which `hidden` values are absent: the values of the targets rules read
    that can hold them (`held`), and the regex hits found on them, without the hidden ones.
    The view shares the request's transformation memo; what it computes is its own."""
    for target in held:
        req.values(target)  # taken on the request itself first, then filtered below
    view = WafRequest(
        req.method,
        req.path,
        req.query,
        req.headers,
        req.client_ip,
        req.body,
        req.body_truncated,
    )
    view.memo = req.memo
    view._files = req._files
    view._body_error = req._body_error
    view.pending = dict(req.pending)
    exact, prefixes, holders = hidden.exact, hidden.prefixes, hidden.holders
    headers = "headers" in holders
    cache = view._cache = dict(req._cache)  # values no hidden one can be among are shared
    for key, values in req._cache.items():
        target = key.partition("\x01")[0]
        counted = target.startswith("count:")
        if counted:
            target = target[6:]
        if target in holders or (headers and target.startswith("header:")):
            if counted:
                del cache[key]  # counted again on the view, without the hidden values
            else:
                cache[key] = [
                    v for v in values if v[0] not in exact and not v[0].startswith(prefixes)
                ]
    view.scans = {
        key: {
            ident: kept
            for ident, found in hits.items()
            if (kept := [v for v in found if v[0] not in exact and not v[0].startswith(prefixes)])
        }
        for key, hits in req.scans.items()
    }
    return view
