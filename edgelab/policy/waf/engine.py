"""The WAF engine: a compiled ruleset that turns a request into a verdict. No I/O, no clock.

    engine = WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=1))
    state = engine.start()
    verdict = engine.evaluate(req, "headers", now, state)      # phase 1: method, URI, headers
    if not verdict.final:
        req.set_body(first_bytes, truncated=False)
        verdict = engine.evaluate(req, "body", now, state)     # phase 2: everything
    verdict.blocked, verdict.rule_id, verdict.matches

`engine.run(req, phase, now, state)` is `evaluate` without the verdict (True: final), for the
edge stage, which reads `state` itself (`verdict_of(state)` builds the verdict when wanted).

Rules run in order. `block` ends the request with that rule's id; `score` adds the rule's
anomaly points and the request is blocked (as the ruleset's anomaly rule, CRS 949110) once the
total reaches the threshold at the end of a phase; `log` only records; `allow` ends evaluation
and lets the request through; `execute` runs a group.

Killswitches disable rules by id at run time. The latent defect of 2025-12-05 is kept on
purpose: a killswitch on an `execute` rule skips the rule and then the result is read anyway,
which raises `ModulePanic` (`killed_execute="raise"`); `killed_execute="skip"` is the fixed
behaviour (the group is skipped with its rule). Which one runs is the stage's failure policy.

Per-site exclusions (`edgelab.policy.waf.exclusions`: the ruleset's own and those given to the
engine) take rules off for some requests, or hide some values from them; an engine without
any pays nothing for them.

Rate conditions count per (rule, key) in fixed windows of `window_s`; the time comes in as
`now`, so tests and replays control it.

Speed: the regex conditions of a phase are matched in one pass (`edgelab.policy.waf.scan`) and
a rule whose regex condition matched nothing is skipped without running any check, as is a rule
whose first condition reads only headers the request does not have; what
libinjection and the transformation chains make of short values is kept across requests
(`edgelab.policy.waf.memo`). A request without a body can be scanned once for both phases
(`scan_bodiless`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, cast

from edgelab.policy.failure import ModulePanic
from edgelab.policy.waf.exclusions import Exclusion, ExclusionSet, RequestSkips
from edgelab.policy.waf.memo import MEMO_VALUE_MAX, BoundedMemo, ChainMemo, is_short
from edgelab.policy.waf.operators import Matcher, compile_operator, equals_set
from edgelab.policy.waf.regex import RegexEngine
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import Condition, Phase, RateLimit, Rule, Ruleset
from edgelab.policy.waf.scan import Chain, HitMap, Prefilter, RegexIndex
from edgelab.policy.waf.transforms import apply_cached, chain_trigger

MEMOIZED_OPERATORS: Final = frozenset({"detect_sqli", "detect_xss"})
"""Operators whose answers for short values are kept across requests (libinjection: pure,
and a few µs a call on values that repeat from request to request)."""
MATCH_PREVIEW_CHARS: Final = 80
"""A matched value is truncated to this many characters in verdicts and logs."""
RATE_KEYS_MAX: Final = 100_000
"""Rate counters kept per rule at most; past it, counters of past windows are dropped."""


@dataclass(frozen=True)
class EngineOptions:
    paranoia_level: int = 1
    """Rules with a higher `paranoia` are not compiled at all."""
    regex_engine: RegexEngine = "re2"
    anomaly_threshold: int = 5
    """Anomaly points at which scoring rules block (end of each phase)."""
    killed_execute: Literal["raise", "skip"] = "raise"
    """What a killswitch on an `execute` rule does: the 2025-12-05 defect, or the fix."""


@dataclass(frozen=True)
class RuleMatch:
    """One rule that matched: where, what, and what it did."""

    rule_id: int
    action: str
    target: str
    value: str
    """The matched text (or libinjection fingerprint), truncated to MATCH_PREVIEW_CHARS."""
    score: int = 0


@dataclass(frozen=True)
class WafVerdict:
    """What the engine decided so far: `blocked` names `rule_id`; `allowed` skips the rest."""

    blocked: bool
    rule_id: int | None
    matches: tuple[RuleMatch, ...]
    score: int
    allowed: bool = False

    @property
    def final(self) -> bool:
        """No later phase needs to run."""
        return self.blocked or self.allowed


@dataclass
class Evaluation:
    """One request's running state across phases (anomaly score, matches)."""

    score: int = 0
    matches: list[RuleMatch] = field(default_factory=list)
    allowed: bool = False
    blocked_by: int | None = None

    def __init__(self) -> None:
        """(Written out: the compiled build runs a generated `__init__` as interpreted Python.)"""
        self.score = 0
        self.matches = []
        self.allowed = False
        self.blocked_by = None


@dataclass
class _Window:
    start: float
    count: int


class _RateCounter:
    """Requests per key in fixed windows; `hit` counts one and says whether it is over."""

    def __init__(self, spec: RateLimit) -> None:
        self.spec = spec
        self.windows: dict[str, _Window] = {}

    def hit(self, key: str, now: float) -> bool:
        start = now - (now % self.spec.window_s)
        w = self.windows.get(key)
        if w is None or w.start != start:
            if len(self.windows) >= RATE_KEYS_MAX:
                self.windows = {k: v for k, v in self.windows.items() if v.start == start}
            w = self.windows[key] = _Window(start, 0)
        w.count += 1
        return w.count > self.spec.limit


Check = Callable[[WafRequest, float], tuple[str, str] | None]
Locate = Callable[[WafRequest, set[str]], tuple[str, str] | None]
_UNSET: Final = object()


def _compile_condition(
    cond: Condition, engine: RegexEngine, index: RegexIndex, memos: list[Callable[[], None]]
) -> tuple[Check, int | None]:
    """The condition's check, and its pattern's id in `index` when it is a regex scan."""
    targets = tuple(cond.targets)
    if cond.op == "rate":
        assert isinstance(cond.arg, RateLimit)
        counter = _RateCounter(cond.arg)

        def rate(req: WafRequest, now: float) -> tuple[str, str] | None:
            key = "|".join(v for t in targets for _, v in req.values(t))
            return ("rate", key) if counter.hit(key, now) else None

        return rate, None
    chain = tuple(cond.transforms)
    negate = cond.negate
    pattern = _as_regex(cond.op, cond.arg) if cond.op in ("regex", "contains") else None
    if pattern is not None and not negate:
        ident = index.add(pattern, chain, targets)

        def regex(req: WafRequest, now: float) -> tuple[str, str] | None:
            for where, value in index.hits(req).get(ident, ()):
                return where, index.search(ident, value) or value
            return None

        return regex, ident
    matcher: Matcher = compile_operator(cond.op, cond.arg, engine)
    if cond.ignore:
        matcher = _ignoring(matcher, cond.ignore)
    trigger = chain_trigger(chain)
    if cond.op in MEMOIZED_OPERATORS and not negate:
        answers, inspect = _remembered(matcher, chain, trigger, memos)

        def detect(req: WafRequest, now: float) -> tuple[str, str] | None:
            step_memo = req.memo
            for target in targets:
                for where, value in req.values(target):
                    # a value seen before: its answer without a call (most values)
                    kept = answers.get(value, _UNSET) if len(value) <= MEMO_VALUE_MAX else _UNSET
                    if kept is _UNSET:
                        hit = inspect(value, step_memo)
                    else:
                        hit = cast("str | None", kept)
                    if hit is not None:
                        return where, hit
            return None

        return detect, None
    chain_key = "\x00".join(chain)
    plan = tuple((t, f"{t}\x01{chain_key}") for t in targets)
    memo = index.memo
    if cond.op == "equals" and not cond.ignore:
        wanted = equals_set(cond.arg)

        names_as_lowered = not chain and not negate

        def equals(req: WafRequest, now: float) -> tuple[str, str] | None:
            # `check` with the matcher inlined (a call per value cost more than the test)
            for target, key in plan:
                if target == "header_names" and names_as_lowered:
                    # the names lowercased once per request (`_lowered`): no `lower` and no
                    # hash of a new string per name and rule (a view that hides them: below)
                    lowered = req._lowered()
                    if len(req.values(target)) == len(lowered):
                        for i in range(len(lowered)):
                            if lowered[i][0] in wanted:
                                return target, req.headers[i][0]
                        continue
                for where, value in _values_after(req, target, key, chain, trigger, memo):
                    if (value.lower() in wanted) is not negate:
                        return where, value
            return None

        return equals, None

    def check(req: WafRequest, now: float) -> tuple[str, str] | None:
        for target, key in plan:
            for where, value in _values_after(req, target, key, chain, trigger, memo):
                hit = matcher(value)
                if negate:
                    if hit is None:
                        return where, value
                elif hit is not None:
                    return where, hit
        return None

    return check, None


def _ignoring(matcher: Matcher, ignore: Iterable[str]) -> Matcher:
    """`matcher` with the answers in `ignore` (exact, or a prefix before a trailing `*`)
    taken as no match: a libinjection fingerprint allow-list (`Condition.ignore`)."""
    exact = frozenset(f for f in ignore if not f.endswith("*"))
    prefixes = tuple(f[:-1] for f in ignore if f.endswith("*"))

    def filtered(value: str) -> str | None:
        answer = matcher(value)
        if answer is None or answer in exact or answer.startswith(prefixes):
            return None
        return answer

    return filtered


def _remembered(
    matcher: Matcher,
    chain: Chain,
    trigger: Callable[[str], object] | None,
    memos: list[Callable[[], None]],
) -> tuple[BoundedMemo[str, str | None], Callable[[str, dict[tuple[str, str], str]], str | None]]:
    """`matcher` after `chain`, with the answer for each short raw value kept across requests:
    the value's transformation and the libinjection call are both skipped when it repeats.
    Returns the answers kept (the caller reads them first: a call per value cost more than
    the lookup) and the function that answers (and keeps the answer of a short value)."""
    answers: BoundedMemo[str, str | None] = BoundedMemo()
    memos.append(answers.clear)

    def inspect(value: str, step_memo: dict[tuple[str, str], str]) -> str | None:
        short = is_short(value)
        if short:
            found = answers.get(value, _UNSET)
            if found is not _UNSET:
                return found  # type: ignore[return-value]
        text = value
        if trigger is not None and trigger(value) is not None:
            text = apply_cached(value, chain, step_memo)
        answer = matcher(text)
        if short:
            answers.keep(value, answer)
        return answer

    return answers, inspect


def _as_regex(op: str, arg: object) -> str | None:
    """The string operators as patterns, so they can join the one-pass scan (same semantics:
    case-insensitive; contains = anywhere, prefix = at the start, equals = the whole value).
    Only `contains` is routed there: `equals` and `prefix` are cheaper as set and tuple
    lookups than as a scan."""
    if op == "regex":
        return arg if isinstance(arg, str) else None
    if op not in ("contains", "prefix", "equals"):
        return None
    needles = [arg] if isinstance(arg, str) else arg if isinstance(arg, list) else []
    alternation = "|".join(_escape(n) for n in needles if isinstance(n, str))
    if not alternation:
        return None
    return {"contains": "(?:{})", "prefix": "^(?:{})", "equals": "^(?:{})$"}[op].format(alternation)


def _escape(literal: str) -> str:
    """`re.escape`, with a NUL spelled `\\x00` (RE2 takes pattern text up to a NUL)."""
    return re.escape(literal).replace("\x00", "\\x00")


def _values_after(
    req: WafRequest,
    target: str,
    key: str,
    chain: Chain,
    trigger: Callable[[str], object] | None,
    memo: ChainMemo,
) -> list[tuple[str, str]]:
    """`target`'s values in `req` after `chain` (as they are when it has no trigger)."""
    values = req.values(target)
    if trigger is not None and values:
        return _transformed(req, values, key, chain, trigger, memo)
    return values


def _transformed(
    req: WafRequest,
    values: list[tuple[str, str]],
    key: str,
    chain: Chain,
    trigger: Callable[[str], object],
    memo: ChainMemo,
) -> list[tuple[str, str]]:
    """A target's `values` after `chain`, computed once per request and chain (`key`)."""
    cached = req._cache.get(key)
    if cached is None:
        step_memo = req.memo
        cached = req._cache[key] = [
            (w, v if trigger(v) is None else memo.apply(v, chain, step_memo)) for w, v in values
        ]
    return cached


@dataclass
class _Compiled:
    rule: Rule
    checks: tuple[Check, ...]
    group: tuple[_Compiled, ...] = ()
    gate: tuple[int, ...] = ()
    """Regex pattern ids of the rule's leading regex conditions: when one of them matched
    nothing in the request, the rule cannot fire, and no check of it has to run."""
    same_value_as: frozenset[int] = frozenset()
    """`Rule.same_value_as`: the rule counts only on a value one of these rules matched."""
    locate: Locate | None = None
    """Where its one regex condition matched among some values (set with `same_value_as`)."""
    present: tuple[str, ...] = ()
    """Header names (lowercased) the rule's first condition reads, when it reads nothing else:
    a request with none of them cannot match it, so its checks need not run (the framing
    rules on Transfer-Encoding and Content-Length, on the many requests without them)."""
    rule_id: int = 0
    """`rule.id`, and below whether `rule.action` is `execute`, read natively (the rule is a
    pydantic model: an attribute read of it is a generic lookup, on every rule run)."""
    executes: bool = False


def _for_phase(rules: tuple[_Compiled, ...], phase: str) -> tuple[_Compiled, ...]:
    """The rules that run in `phase`, `execute` rules kept with their group filtered too."""
    out: list[_Compiled] = []
    for c in rules:
        if c.executes:
            out.append(_with_group(c, _for_phase(c.group, phase)))
        elif c.rule.phase == phase:
            out.append(c)
    return tuple(out)


def _ungated(rules: tuple[_Compiled, ...]) -> tuple[_Compiled, ...]:
    """`rules` without those that have a `gate` (`execute` groups filtered too): the rules
    that may run on a request whose regex scan found nothing at all (most requests), in
    order. `_run` skips every gated rule on such a request; this list does not hold them."""
    return tuple(
        _with_group(c, _ungated(c.group)) if c.executes else c for c in rules if not c.gate
    )


def _with_group(c: _Compiled, group: tuple[_Compiled, ...]) -> _Compiled:
    return _Compiled(
        c.rule,
        c.checks,
        group,
        c.gate,
        c.same_value_as,
        c.locate,
        c.present,
        c.rule_id,
        c.executes,
    )


class WafEngine:
    """A ruleset compiled for one regex engine and paranoia level; killswitches are swappable."""

    _memo: ChainMemo
    _memos: list[Callable[[], None]]
    """Every memo kept across requests, as its `clear` (`forget`)."""
    _regex: dict[str, RegexIndex]
    """Per phase, its regex conditions scanned together."""
    _entry: tuple[_Compiled, ...]
    _both: Prefilter | None
    """One scan for both phases, for requests without a body (`scan_bodiless`)."""
    _by_phase: dict[str, tuple[_Compiled, ...]]
    _ungated_by_phase: dict[str, tuple[_Compiled, ...]]
    """Per phase, the rules that may run when the phase's scan found nothing (`_ungated`)."""
    phases: frozenset[str]
    """Phases some compiled rule runs in (no body phase = no reason to buffer a body)."""

    def __init__(
        self,
        ruleset: Ruleset,
        options: EngineOptions,
        killed: Iterable[int] = (),
        *,
        compiled_as: WafEngine | None = None,
        exclusions: Sequence[Exclusion] = (),
    ) -> None:
        """Raises ValueError if a pattern does not compile under the chosen engine.
        `compiled_as`: an engine of the same ruleset and options whose compiled rules (and
        rate counters) this one shares instead of compiling them again (`with_killed`).
        `exclusions`: per-site exclusions besides the ruleset's own (the edge config's)."""
        self.ruleset = ruleset
        self.options = options
        self.killed: frozenset[int] = frozenset(killed)
        """Rule ids switched off at run time (the killswitch artifact)."""
        self.exclusions: tuple[Exclusion, ...] = tuple(exclusions)
        self._excluded = ExclusionSet.build([*ruleset.exclusions, *exclusions], ruleset)
        self.anomaly_rule_id = ruleset.ruleset.anomaly_rule_id
        if compiled_as is not None:
            other = compiled_as
            self._memo, self._memos, self._regex = other._memo, other._memos, other._regex
            self._entry, self._both = other._entry, other._both
            self._by_phase, self.phases = other._by_phase, other.phases
            self._ungated_by_phase = other._ungated_by_phase
            return
        self._memo = ChainMemo()
        self._memos = [self._memo.clear]
        self._regex = {
            "headers": RegexIndex(options.regex_engine, self._memo),
            "body": RegexIndex(options.regex_engine, self._memo),
        }
        groups = {
            name: tuple(self._compile(r) for r in rules if r.paranoia <= options.paranoia_level)
            for name, rules in ruleset.groups.items()
        }
        self._entry = tuple(
            self._compile(r, groups) for r in ruleset.rules if r.paranoia <= options.paranoia_level
        )
        for index in self._regex.values():
            index.compile()
        headers, body = self._regex["headers"], self._regex["body"]
        self._both = (
            Prefilter(headers, body)
            if headers.prefilter is not None and body.prefilter is not None
            else None
        )
        self._by_phase = {phase: _for_phase(self._entry, phase) for phase in ("headers", "body")}
        self._ungated_by_phase = {p: _ungated(rules) for p, rules in self._by_phase.items()}
        self.phases = frozenset(c.rule.phase for e in self._entry for c in (e.group or (e,)))

    def _compile(
        self, rule: Rule, groups: dict[str, tuple[_Compiled, ...]] | None = None
    ) -> _Compiled:
        compiled = [
            _compile_condition(c, self.options.regex_engine, self._regex[rule.phase], self._memos)
            for c in rule.when
        ]
        gate: list[int] = []
        for _, ident in compiled:
            if ident is None:
                break  # a later check may have effects (rate counts): keep the order
            gate.append(ident)
        group = groups[rule.execute] if groups is not None and rule.execute else ()
        locate = None
        if rule.same_value_as:
            ident, index = compiled[0][1], self._regex[rule.phase]
            assert ident is not None  # the rule model allows only a regex or contains condition
            locate = _locator(index, ident)
            gate = []  # `locate` looks for its match itself, on the values it needs
        return _Compiled(
            rule,
            tuple(check for check, _ in compiled),
            group,
            tuple(gate),
            frozenset(rule.same_value_as),
            locate,
            _headers_read(rule),
            rule.id,
            rule.action == "execute",
        )

    def forget(self) -> None:
        """Drop every result kept across requests (benchmarks measure the cost of a request
        whose values the engine has never seen, as a flood of unique values would be)."""
        for clear in self._memos:
            clear()
        for index in self._regex.values():
            index.verdicts.clear()
            if index.prefilter is not None:
                index.prefilter.forget()
        if self._both is not None:
            self._both.forget()

    def with_killed(self, killed: Iterable[int]) -> WafEngine:
        """The same compiled rules (and rate counters) with another killswitch set."""
        return WafEngine(
            self.ruleset, self.options, killed, compiled_as=self, exclusions=self.exclusions
        )

    def with_exclusions(self, exclusions: Sequence[Exclusion]) -> WafEngine:
        """The same compiled rules (and rate counters) with other per-site exclusions."""
        return WafEngine(
            self.ruleset, self.options, self.killed, compiled_as=self, exclusions=exclusions
        )

    def start(self) -> Evaluation:
        return Evaluation()

    def scan_bodiless(self, req: WafRequest) -> None:
        """For a request that has no body (most of them): scan for both phases' regex rules at
        once, instead of once per phase. Same verdicts; optional (each phase scans for itself
        when this was not called); must not be called for a request whose body will come."""
        if self._both is None:
            return
        found = self._both.candidates(req)
        split = len(self._regex["headers"])
        self._regex["headers"].preset(req, [i for i in found if i < split])
        self._regex["body"].preset(req, [i - split for i in found if i >= split])

    def evaluate(
        self, req: WafRequest, phase: Phase, now: float, state: Evaluation | None = None
    ) -> WafVerdict:
        """Run the rules of `phase`; raises ModulePanic on a killed `execute` rule (see above)."""
        st = state if state is not None else Evaluation()
        self.run(req, phase, now, st)
        return verdict_of(st)

    def run(self, req: WafRequest, phase: Phase, now: float, st: Evaluation) -> bool:
        """`evaluate` without building a verdict (`verdict_of(st)` builds it once, after the
        last phase): True when no later phase needs to run."""
        if st.blocked_by is None and not st.allowed:
            hits = self._regex[phase].hits(req)
            excluded = self._excluded
            skips = None if excluded is None else excluded.for_request(req)
            rules = self._by_phase[phase] if hits else self._ungated_by_phase[phase]
            self._run(rules, req, hits, now, st, skips)
            _end_phase(st, self.options.anomaly_threshold, self.anomaly_rule_id)
        return st.blocked_by is not None or st.allowed

    def _run(
        self,
        rules: tuple[_Compiled, ...],
        req: WafRequest,
        hits: HitMap,
        now: float,
        st: Evaluation,
        skips: RequestSkips | None = None,
    ) -> bool:
        """Evaluate `rules` (all of this phase); True when evaluation must stop. `skips`: what
        per-site exclusions take off for this request (None: nothing)."""
        for c in rules:
            gate = c.gate
            if gate and not (hits and all(i in hits for i in gate)):
                continue  # most rules, on most requests: nothing they look for is there
            if c.present:
                names = req._by_name()
                if not any(n in names for n in c.present):
                    continue  # the headers its first condition reads are not in the request
            if c.executes:
                if c.rule_id in self.killed:
                    if self.options.killed_execute == "raise":
                        # 2025-12-05: the killswitch skipped the rule, then post-processing read
                        # rule_result.execute.results, and `execute` was nil.
                        raise ModulePanic(
                            f"waf rule {c.rule_id}: attempt to index field 'execute' (a nil value)"
                        )
                    continue
                if self._run(c.group, req, hits, now, st, skips):
                    return True
                continue
            rule_id = c.rule_id
            if rule_id in self.killed:
                continue
            seen = req
            if skips is not None and rule_id in skips.rules:
                hidden = skips.rules[rule_id]
                if hidden is None:
                    continue  # excluded for this request
                seen = skips.view(req, hidden)  # the rule runs without the hidden values
            if c.locate is not None:
                on = _same_value(c, seen, st)
                if on is not None and self._matched(c.rule, on[0], on[1], st):
                    return True
                continue
            first: tuple[str, str] | None = None
            for check in c.checks:
                hit = check(seen, now)
                if hit is None:
                    break
                first = first or hit
            else:
                target, value = first or ("", "")
                if self._matched(c.rule, target, value, st):
                    return True
        return False

    @staticmethod
    def _matched(rule: Rule, target: str, value: str, st: Evaluation) -> bool:
        """Apply a matching rule's action; True when evaluation must stop."""
        score = rule.score if rule.action == "score" else 0
        st.matches.append(
            RuleMatch(rule.id, rule.action, target, value[:MATCH_PREVIEW_CHARS], score)
        )
        if rule.action == "score":
            st.score += score
        elif rule.action == "block":
            st.blocked_by = rule.id
            return True
        elif rule.action == "allow":
            st.allowed = True
            return True
        return False


def _headers_read(rule: Rule) -> tuple[str, ...]:
    """The header names of `rule`'s first condition if it reads only `header:<name>` targets
    (and is not a rate, which counts a missing header as the key ""); else ()."""
    first = rule.when[0] if rule.when else None
    if first is None or first.op == "rate":
        return ()
    if not all(t.startswith("header:") for t in first.targets):
        return ()
    return tuple(t[len("header:") :].lower() for t in first.targets)


def _locator(index: RegexIndex, ident: int) -> Locate:
    """(where, matched text) of the first value among `wanted` (wheres: `args:q`...) that
    pattern `ident` of `index` matched in a request, or None; the pattern is confirmed only
    then, on those values (`RegexIndex.defer`)."""
    index.defer(ident)

    def locate(req: WafRequest, wanted: set[str]) -> tuple[str, str] | None:
        return index.locate(req, ident, wanted)

    return locate


def _same_value(c: _Compiled, req: WafRequest, st: Evaluation) -> tuple[str, str] | None:
    """Where `c` matched on a value one of the rules it names already matched (a chain on one
    value), as (where, matched text); None when it did not."""
    assert c.locate is not None
    wanted = {m.target for m in st.matches if m.rule_id in c.same_value_as}
    return c.locate(req, wanted) if wanted else None


def verdict_of(st: Evaluation) -> WafVerdict:
    """The verdict a request's evaluation has come to so far."""
    return WafVerdict(
        st.blocked_by is not None, st.blocked_by, tuple(st.matches), st.score, st.allowed
    )


def _end_phase(st: Evaluation, threshold: int, anomaly_rule_id: int) -> None:
    """A phase's score at the threshold blocks as the anomaly rule. (A function of its own:
    `st` was read before the rules changed it, and the compiled build trusts what it read.)"""
    if st.blocked_by is None and not st.allowed and st.score >= threshold:
        st.blocked_by = anomaly_rule_id


_SHARED: Final[dict[tuple[int, EngineOptions], tuple[Ruleset, WafEngine]]] = {}


def shared_engine(ruleset: Ruleset, options: EngineOptions) -> WafEngine:
    """A compiled engine for `ruleset`, shared by every caller with the same options (POPs
    started in one process, tests). Only for rulesets without rate conditions: an engine's
    only mutable state is its rate counters, which must not be shared between POPs."""
    if any(c.op == "rate" for r in ruleset.all_rules() for c in r.when):
        return WafEngine(ruleset, options)
    key = (id(ruleset), options)
    hit = _SHARED.get(key)
    if hit is None or hit[0] is not ruleset:
        hit = _SHARED[key] = (ruleset, WafEngine(ruleset, options))
    return hit[1]
