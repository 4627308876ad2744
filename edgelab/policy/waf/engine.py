"""The WAF engine: a compiled ruleset that turns a request into a verdict. No I/O, no clock.

    engine = WafEngine(load_default_ruleset(), EngineOptions(paranoia_level=1))
    state = engine.start()
    verdict = engine.evaluate(req, "headers", now, state)      # phase 1: method, URI, headers
    if not verdict.final:
        req.set_body(first_bytes, truncated=False)
        verdict = engine.evaluate(req, "body", now, state)     # phase 2: everything
    verdict.blocked, verdict.rule_id, verdict.matches

Rules run in order. `block` ends the request with that rule's id; `score` adds the rule's
anomaly points and the request is blocked (as the ruleset's anomaly rule, CRS 949110) once the
total reaches the threshold at the end of a phase; `log` only records; `allow` ends evaluation
and lets the request through; `execute` runs a group.

Killswitches disable rules by id at run time. The latent defect of 2025-12-05 is kept on
purpose: a killswitch on an `execute` rule skips the rule and then the result is read anyway,
which raises `ModulePanic` (`killed_execute="raise"`); `killed_execute="skip"` is the fixed
behaviour (the group is skipped with its rule). Which one runs is the stage's failure policy.

Rate conditions count per (rule, key) in fixed windows of `window_s`; the time comes in as
`now`, so tests and replays control it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from edgelab.policy.failure import ModulePanic
from edgelab.policy.waf.memo import MEMO_ENTRIES_MAX, MEMO_VALUE_MAX, ChainMemo
from edgelab.policy.waf.operators import Matcher, compile_operator
from edgelab.policy.waf.regex import (
    Pattern,
    PatternSet,
    RegexEngine,
    compile_regex,
    prefilterable,
)
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import Condition, Phase, RateLimit, Rule, Ruleset
from edgelab.policy.waf.transforms import ChainSet, apply_cached, chain_trigger, trigger_needles

MEMOIZED_OPERATORS = frozenset({"detect_sqli", "detect_xss"})
"""Operators whose answers for short values are kept across requests (libinjection: pure,
and a few µs a call on values that repeat from request to request)."""
MATCH_PREVIEW_CHARS = 80
"""A matched value is truncated to this many characters in verdicts and logs."""
RATE_KEYS_MAX = 100_000
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
Chain = tuple[str, ...]
HitMap = dict[int, list[tuple[str, str]]]
"""Pattern id -> (where, value as matched) of every value it matched."""


class _RegexIndex:
    """Every regex condition of one phase, scanned together: one pass per value and target.

    Each distinct value of the request is scanned once per phase, whatever number of targets
    it belongs to, by one PatternSet of every pattern that inspects one of those targets (for
    values no transformation changes, the usual case), else once per distinct transformed text.
    """

    def __init__(self, engine: RegexEngine, memo: ChainMemo) -> None:
        self.engine = engine
        self.memo = memo
        self._patterns: list[tuple[str, Pattern, Chain]] = []
        self._targets: list[tuple[str, ...]] = []
        self._by_target: dict[str, list[int]] = {}
        self._plans: dict[frozenset[str], _TargetPlan] = {}
        self._key = f"\x02regex{id(self)}"
        self._prefilter: _Prefilter | None = None
        self._triggers: dict[Chain, Callable[[str], object] | None] = {}

    def add(self, pattern: str, chain: Chain, targets: tuple[str, ...]) -> int:
        ident = len(self._patterns)
        self._patterns.append((pattern, compile_regex(pattern, self.engine), chain))
        self._targets.append(targets)
        for t in targets:
            self._by_target.setdefault(t, []).append(ident)
        return ident

    def compile(self) -> None:
        """Check every pattern compiles into sets; plans for target groups are built lazily.
        Under RE2 the whole index also gets its prefilter (see `_Prefilter`)."""
        for target in self._by_target:
            self.plan(frozenset([target]))
        if self.engine == "re2" and self._patterns:
            self._prefilter = _Prefilter(self)

    def plan(self, targets: frozenset[str]) -> _TargetPlan:
        """How to scan a value that several targets share (a header is in `headers` and in
        `header:<name>`; a query argument in `args` and `query_args`): one plan for all."""
        plan = self._plans.get(targets)
        if plan is None:
            idents = sorted({i for t in targets for i in self._by_target.get(t, ())})
            chains: dict[Chain, list[int]] = {}
            for i in idents:
                chains.setdefault(self._patterns[i][2], []).append(i)
            plan = self._plans[targets] = _TargetPlan(
                self,
                clean=self._set(idents),
                trigger=chain_trigger(sorted({n for c in chains for n in c})),
                chains=list(chains.items()),
            )
        return plan

    def _set(self, idents: list[int]) -> PatternSet:
        return PatternSet(
            self.engine, [(i, self._patterns[i][0], self._patterns[i][1]) for i in idents]
        )

    def search(self, ident: int, value: str) -> str | None:
        return self._patterns[ident][1].search(value)

    def preset(self, req: WafRequest, candidates: Iterable[int]) -> None:
        """Take `candidates` from a prefilter that scanned more than this index (both phases
        at once) as this phase's: `hits` then only confirms them."""
        req._cache[self._key] = self._confirm(req, candidates)  # type: ignore[assignment]

    def hits(self, req: WafRequest) -> HitMap:
        """What matched where in `req`, computed on first use per request and phase."""
        key = self._key
        found: HitMap | None = req._cache.get(key)  # type: ignore[assignment]
        if found is not None:
            return found
        if self._prefilter is not None:
            found = req._cache[key] = self._confirm(req, self._prefilter.candidates(req))  # type: ignore[assignment]
            return found
        # Each distinct value once, with every target it belongs to.
        sources: dict[tuple[str, str], set[str]] = {}
        for target in self._by_target:
            for where, value in req.values(target):
                sources.setdefault((where, value), set()).add(target)
        found = {}
        memo = req.memo
        for (where, value), targets in sources.items():
            plan = self.plan(frozenset(targets))
            if plan.trigger is None or plan.trigger(value) is None:
                for i in plan.clean.matches(value):
                    found.setdefault(i, []).append((where, value))
                continue
            # Chains that leave the value the same scan it once, with their patterns joined.
            texts: dict[str, list[int]] = {}
            for c, (chain, _) in enumerate(plan.chains):
                texts.setdefault(apply_cached(value, chain, memo), []).append(c)
            for text, chains in texts.items():
                for i in plan.bank(tuple(chains)).matches(text):
                    found.setdefault(i, []).append((where, text))
        req._cache[key] = found  # type: ignore[assignment]
        return found

    def _confirm(self, req: WafRequest, candidates: Iterable[int]) -> HitMap:
        """Exactly what the prefilter's candidates match: each pattern on each value of its
        own targets, after its own chain (values without a trigger of the chain as they are)."""
        found: HitMap = {}
        memo = req.memo
        for ident in sorted(candidates):
            _, pattern, chain = self._patterns[ident]
            trigger = self._chain_triggers(chain)
            where_values: list[tuple[str, str]] = []
            for target in self._targets[ident]:
                for where, value in req.values(target):
                    if trigger is not None and trigger(value) is not None:
                        value = apply_cached(value, chain, memo)
                    if pattern.search(value) is not None:
                        where_values.append((where, value))
            if where_values:
                found[ident] = list(dict.fromkeys(where_values))  # one value, several targets
        return found

    def _chain_triggers(self, chain: Chain) -> Callable[[str], object] | None:
        trigger = self._triggers.get(chain, _UNSET)
        if trigger is _UNSET:
            trigger = self._triggers[chain] = chain_trigger(chain)
        return trigger  # type: ignore[return-value]


_UNSET = object()


class _Prefilter:
    """One RE2 scan of all of a request's values for every pattern of a phase at once.

    The values (and, for a value a transformation would change, its transformed forms) are
    joined into one text, one per line, and matched by one multiline set of all the index's
    patterns. A pattern that matches a value matches that text too (see `prefilterable`), so a
    pattern the scan does not report cannot match anywhere: a clean request costs one scan, and
    only the patterns it reports (usually none) are confirmed value by value. Patterns that
    cannot be prefiltered are always confirmed.
    """

    def __init__(self, *indexes: _RegexIndex) -> None:
        """Several indexes (both phases of a bodiless request) number their patterns one
        after the other: the first index's ids as they are, the next's after them."""
        patterns = [p for index in indexes for p in index._patterns]
        scanned = [i for i, (src, _, _) in enumerate(patterns) if prefilterable(src)]
        self.always = frozenset(range(len(patterns))) - frozenset(scanned)
        self.scan = PatternSet(
            indexes[0].engine,
            [(i, patterns[i][0], patterns[i][1]) for i in scanned],
            multiline=True,
        )
        self.targets = tuple(dict.fromkeys(t for index in indexes for t in index._by_target))
        chains = sorted({chain for _, _, chain in patterns if chain})
        self.chain_set = ChainSet(chains)
        names = sorted({n for c in chains for n in c})
        self.trigger = chain_trigger(names)
        self.needles = trigger_needles(names)
        self._forms: dict[str, tuple[str, ...]] = {}
        """Value -> what the chains make of it (short values, kept across requests)."""

    def candidates(self, req: WafRequest) -> frozenset[int]:
        """The patterns that may match somewhere in `req` (a superset; usually empty)."""
        values = [v for t in self.targets for _, v in req.values(t)]
        text = "\n".join(values)
        if self.trigger is not None:
            extra = self._transformed(values, text, req.memo)
            if extra:
                text = "\n".join([text, *extra])
        found = self.scan.matches(text)
        return found | self.always if self.always else found

    def _transformed(
        self, values: list[str], text: str, step_memo: dict[tuple[str, str], str]
    ) -> list[str]:
        """Every form the index's chains make of `values` that is not already among them.
        What they make of a short value is kept across requests (`_forms`)."""
        needles = self.needles
        if needles is not None:
            for needle in needles:
                if needle in text:
                    break
            else:
                return []  # nothing any chain would change
        seen = set(values)
        extra: list[str] = []
        forms_of = self._forms
        for value in dict.fromkeys(values):
            forms = forms_of.get(value)
            if forms is None:
                forms = tuple(f for f in self.chain_set.forms(value, step_memo) if f != value)
                if len(value) <= MEMO_VALUE_MAX:
                    if len(forms_of) >= MEMO_ENTRIES_MAX:
                        forms_of.clear()
                    forms_of[value] = forms
            for out in forms:
                if out not in seen:
                    seen.add(out)
                    extra.append(out)
        return extra


class _TargetPlan:
    """How one target is scanned: all patterns at once for untouched values, else per chain."""

    def __init__(
        self,
        index: _RegexIndex,
        clean: PatternSet,
        trigger: Callable[[str], object] | None,
        chains: list[tuple[Chain, list[int]]],
    ) -> None:
        self.index = index
        self.clean = clean
        self.trigger = trigger
        self.chains = chains
        self._banks: dict[tuple[int, ...], PatternSet] = {tuple(range(len(chains))): clean}

    def bank(self, chains: tuple[int, ...]) -> PatternSet:
        """The patterns of these chains as one set (built on first use, then kept)."""
        bank = self._banks.get(chains)
        if bank is None:
            idents = sorted(i for c in chains for i in self.chains[c][1])
            bank = self._banks[chains] = self.index._set(idents)
        return bank


def _compile_condition(
    cond: Condition, engine: RegexEngine, index: _RegexIndex, memos: list[Callable[[], None]]
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
    trigger = chain_trigger(chain)
    if cond.op in MEMOIZED_OPERATORS and not negate:
        inspect = _remembered(matcher, chain, trigger, memos)

        def detect(req: WafRequest, now: float) -> tuple[str, str] | None:
            step_memo = req.memo
            for target in targets:
                for where, value in req.values(target):
                    hit = inspect(value, step_memo)
                    if hit is not None:
                        return where, hit
            return None

        return detect, None
    chain_key = "\x00".join(chain)
    plan = tuple((t, f"{t}\x01{chain_key}") for t in targets)
    memo = index.memo

    def check(req: WafRequest, now: float) -> tuple[str, str] | None:
        for target, key in plan:
            values = req.values(target)
            if trigger is not None and values:
                values = _transformed(req, values, key, chain, trigger, memo)
            for where, value in values:
                hit = matcher(value)
                if negate:
                    if hit is None:
                        return where, value
                elif hit is not None:
                    return where, hit
        return None

    return check, None


def _remembered(
    matcher: Matcher,
    chain: Chain,
    trigger: Callable[[str], object] | None,
    memos: list[Callable[[], None]],
) -> Callable[[str, dict[tuple[str, str], str]], str | None]:
    """`matcher` after `chain`, with the answer for each short raw value kept across requests:
    the value's transformation and the libinjection call are both skipped when it repeats."""
    answers: dict[str, str | None] = {}
    memos.append(answers.clear)

    def inspect(value: str, step_memo: dict[tuple[str, str], str]) -> str | None:
        short = len(value) <= MEMO_VALUE_MAX
        if short:
            found = answers.get(value, _UNSET)
            if found is not _UNSET:
                return found  # type: ignore[return-value]
        text = value
        if trigger is not None and trigger(value) is not None:
            text = apply_cached(value, chain, step_memo)
        answer = matcher(text)
        if short:
            if len(answers) >= MEMO_ENTRIES_MAX:
                answers.clear()
            answers[value] = answer
        return answer

    return inspect


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


def _for_phase(rules: tuple[_Compiled, ...], phase: str) -> tuple[_Compiled, ...]:
    """The rules that run in `phase`, `execute` rules kept with their group filtered too."""
    out: list[_Compiled] = []
    for c in rules:
        if c.rule.action == "execute":
            out.append(_Compiled(c.rule, c.checks, _for_phase(c.group, phase), c.gate))
        elif c.rule.phase == phase:
            out.append(c)
    return tuple(out)


class WafEngine:
    """A ruleset compiled for one regex engine and paranoia level; killswitches are swappable."""

    def __init__(
        self, ruleset: Ruleset, options: EngineOptions, killed: Iterable[int] = ()
    ) -> None:
        """Raises ValueError if a pattern does not compile under the chosen engine."""
        self.ruleset = ruleset
        self.options = options
        self.killed: frozenset[int] = frozenset(killed)
        """Rule ids switched off at run time (the killswitch artifact)."""
        self.anomaly_rule_id = ruleset.ruleset.anomaly_rule_id
        self._memo = ChainMemo()
        self._memos: list[Callable[[], None]] = [self._memo.clear]
        self._regex = {
            "headers": _RegexIndex(options.regex_engine, self._memo),
            "body": _RegexIndex(options.regex_engine, self._memo),
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
            _Prefilter(headers, body)
            if headers._prefilter is not None and body._prefilter is not None
            else None
        )
        """One scan for both phases, for requests without a body (`scan_bodiless`)."""
        self._by_phase: dict[str, tuple[_Compiled, ...]] = {
            phase: _for_phase(self._entry, phase) for phase in ("headers", "body")
        }
        self.phases: frozenset[str] = frozenset(
            c.rule.phase for e in self._entry for c in (e.group or (e,))
        )
        """Phases some compiled rule runs in (no body phase = no reason to buffer a body)."""

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
        return _Compiled(rule, tuple(check for check, _ in compiled), group, tuple(gate))

    def forget(self) -> None:
        """Drop every result kept across requests (benchmarks measure the cost of a request
        whose values the engine has never seen, as a flood of unique values would be)."""
        for clear in self._memos:
            clear()
        for index in self._regex.values():
            if index._prefilter is not None:
                index._prefilter._forms.clear()
        if self._both is not None:
            self._both._forms.clear()

    def with_killed(self, killed: Iterable[int]) -> WafEngine:
        """The same compiled rules (and rate counters) with another killswitch set."""
        clone = object.__new__(WafEngine)
        clone.__dict__.update(self.__dict__)
        clone.killed = frozenset(killed)
        return clone

    def start(self) -> Evaluation:
        return Evaluation()

    def scan_bodiless(self, req: WafRequest) -> None:
        """For a request that has no body (most of them): scan for both phases' regex rules at
        once, instead of once per phase. Same verdicts; optional (each phase scans for itself
        when this was not called); must not be called for a request whose body will come."""
        if self._both is None:
            return
        found = self._both.candidates(req)
        split = len(self._regex["headers"]._patterns)
        self._regex["headers"].preset(req, [i for i in found if i < split])
        self._regex["body"].preset(req, [i - split for i in found if i >= split])

    def evaluate(
        self, req: WafRequest, phase: Phase, now: float, state: Evaluation | None = None
    ) -> WafVerdict:
        """Run the rules of `phase`; raises ModulePanic on a killed `execute` rule (see above)."""
        st = state if state is not None else Evaluation()
        if st.blocked_by is None and not st.allowed:
            hits = self._regex[phase].hits(req)
            self._run(self._by_phase[phase], req, hits, now, st)
            if (
                st.blocked_by is None
                and not st.allowed
                and st.score >= self.options.anomaly_threshold
            ):
                st.blocked_by = self.anomaly_rule_id
        return WafVerdict(
            st.blocked_by is not None, st.blocked_by, tuple(st.matches), st.score, st.allowed
        )

    def _run(
        self,
        rules: tuple[_Compiled, ...],
        req: WafRequest,
        hits: HitMap,
        now: float,
        st: Evaluation,
    ) -> bool:
        """Evaluate `rules` (all of this phase); True when evaluation must stop."""
        for c in rules:
            gate = c.gate
            if gate and not (hits and all(i in hits for i in gate)):
                continue  # most rules, on most requests: nothing they look for is there
            rule = c.rule
            if rule.action == "execute":
                if rule.id in self.killed:
                    if self.options.killed_execute == "raise":
                        # 2025-12-05: the killswitch skipped the rule, then post-processing read
                        # rule_result.execute.results, and `execute` was nil.
                        raise ModulePanic(
                            f"waf rule {rule.id}: attempt to index field 'execute' (a nil value)"
                        )
                    continue
                if self._run(c.group, req, hits, now, st):
                    return True
                continue
            if rule.id in self.killed:
                continue
            first: tuple[str, str] | None = None
            for check in c.checks:
                hit = check(req, now)
                if hit is None:
                    break
                first = first or hit
            else:
                target, value = first or ("", "")
                if self._matched(rule, target, value, st):
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


_SHARED: dict[tuple[int, EngineOptions], tuple[Ruleset, WafEngine]] = {}


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
