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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from edgelab.policy.failure import ModulePanic
from edgelab.policy.waf.operators import Matcher, compile_operator
from edgelab.policy.waf.regex import RegexEngine
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import Condition, Phase, RateLimit, Rule, Ruleset
from edgelab.policy.waf.transforms import apply_transforms

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


def _compile_condition(cond: Condition, engine: RegexEngine) -> Check:
    targets = tuple(cond.targets)
    if cond.op == "rate":
        assert isinstance(cond.arg, RateLimit)
        counter = _RateCounter(cond.arg)

        def rate(req: WafRequest, now: float) -> tuple[str, str] | None:
            key = "|".join(v for t in targets for _, v in req.values(t))
            return ("rate", key) if counter.hit(key, now) else None

        return rate
    matcher: Matcher = compile_operator(cond.op, cond.arg, engine)
    chain = tuple(cond.transforms)
    negate = cond.negate
    cache_key = "\x00".join(chain)

    def check(req: WafRequest, now: float) -> tuple[str, str] | None:
        for target in targets:
            for where, value in _transformed(req, target, chain, cache_key):
                hit = matcher(value)
                if negate:
                    if hit is None:
                        return where, value
                elif hit is not None:
                    return where, hit
        return None

    return check


def _transformed(
    req: WafRequest, target: str, chain: tuple[str, ...], cache_key: str
) -> list[tuple[str, str]]:
    """The target's values after `chain`, computed once per request and chain."""
    values = req.values(target)
    if not chain or not values:
        return values
    key = f"{target}\x01{cache_key}"
    cached = req._cache.get(key)
    if cached is None:
        cached = req._cache[key] = [(w, apply_transforms(v, chain)) for w, v in values]
    return cached


@dataclass
class _Compiled:
    rule: Rule
    checks: tuple[Check, ...]
    group: tuple[_Compiled, ...] = ()


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
        groups = {
            name: tuple(self._compile(r) for r in rules if r.paranoia <= options.paranoia_level)
            for name, rules in ruleset.groups.items()
        }
        self._entry = tuple(
            self._compile(r, groups) for r in ruleset.rules if r.paranoia <= options.paranoia_level
        )
        self.phases: frozenset[str] = frozenset(
            c.rule.phase for e in self._entry for c in (e.group or (e,))
        )
        """Phases some compiled rule runs in (no body phase = no reason to buffer a body)."""

    def _compile(
        self, rule: Rule, groups: dict[str, tuple[_Compiled, ...]] | None = None
    ) -> _Compiled:
        checks = tuple(_compile_condition(c, self.options.regex_engine) for c in rule.when)
        group = groups[rule.execute] if groups is not None and rule.execute else ()
        return _Compiled(rule, checks, group)

    def with_killed(self, killed: Iterable[int]) -> WafEngine:
        """The same compiled rules (and rate counters) with another killswitch set."""
        clone = object.__new__(WafEngine)
        clone.__dict__.update(self.__dict__)
        clone.killed = frozenset(killed)
        return clone

    def start(self) -> Evaluation:
        return Evaluation()

    def evaluate(
        self, req: WafRequest, phase: Phase, now: float, state: Evaluation | None = None
    ) -> WafVerdict:
        """Run the rules of `phase`; raises ModulePanic on a killed `execute` rule (see above)."""
        st = state if state is not None else Evaluation()
        if st.blocked_by is None and not st.allowed:
            self._run(self._entry, req, phase, now, st)
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
        phase: Phase,
        now: float,
        st: Evaluation,
    ) -> bool:
        """Evaluate `rules`; True when evaluation must stop (block or allow)."""
        for c in rules:
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
                if self._run(c.group, req, phase, now, st):
                    return True
                continue
            if rule.phase != phase or rule.id in self.killed:
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
