r"""Regex scanning: every regex condition of a phase, matched against a request in one pass.

    index = RegexIndex("re2", ChainMemo())
    ident = index.add(r"union\s+select", ("url_decode_repeat",), ("args", "cookies"))
    index.compile()
    index.hits(req).get(ident)    # [(where, text it matched in)], or None: no match anywhere

Under RE2 the index has a `Prefilter`: the request's values (and the forms its transformation
chains make of them) joined one per line and matched by a few multiline RE2 sets of all the
index's patterns (the open-ended ones apart: one set of them all can spend seconds on a body of
attack fragments); only the patterns that scan reports are confirmed value by value, so a clean
request costs one pass per set. Under `re` (backtracking, the 2019-07-02 behaviour) each distinct value
is matched pattern by pattern (`PatternSet`), which is also the reference the prefilter is
tested against. The rule engine (`edgelab.policy.waf.engine`) reads `hits` to skip every rule
whose regex condition matched nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from edgelab.policy.waf.memo import MEMO_VALUE_MAX, BoundedMemo, ChainMemo, is_short
from edgelab.policy.waf.regex import (
    Pattern,
    PatternSet,
    RegexEngine,
    compile_regex,
    prefilterable,
    scan_groups,
    widened,
)
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.transforms import (
    ChainSet,
    apply_cached,
    chain_trigger,
    trigger_needles,
)

Chain = tuple[str, ...]
HitMap = dict[int, list[tuple[str, str]]]
"""Pattern id -> (where, value as matched) of every value it matched."""


class RegexIndex:
    """Every regex condition of one phase, scanned together.

    Under RE2 (`prefilter` set): one scan of the whole request, then the patterns it reports
    confirmed value by value. Without it (`re`, or a test comparing the two): each distinct
    value once per phase, whatever number of targets it belongs to, by one PatternSet of every
    pattern that inspects one of those targets (`TargetPlan`), else once per distinct
    transformed text.
    """

    def __init__(self, engine: RegexEngine, memo: ChainMemo) -> None:
        self.engine = engine
        self.memo = memo
        self._patterns: list[tuple[str, Pattern, Chain]] = []
        self._targets: list[tuple[str, ...]] = []
        self._by_target: dict[str, list[int]] = {}
        self._plans: dict[frozenset[str], TargetPlan] = {}
        self._key = f"regex{id(self)}"
        self.prefilter: Prefilter | None = None
        self._triggers: dict[Chain, Callable[[str], object] | None] = {}
        self._tests: list[Callable[[str], bool]] = []
        """Per pattern, whether it matches a text (for confirming the prefilter's candidates)."""
        self._deferred: set[int] = set()
        """Patterns confirmed only on demand (`defer`)."""
        self.verdicts: BoundedMemo[tuple[int, str], bool] = BoundedMemo()
        """(pattern id, short text) -> whether the pattern matches it, kept across requests:
        the scan reports a pattern that some other value set off (the host-is-an-address
        pattern on any number in a query or header), and its confirmation tests the same
        host, user agent or cookie on request after request."""

    def __len__(self) -> int:
        """Patterns in the index (their ids are 0 .. len - 1)."""
        return len(self._patterns)

    def add(self, pattern: str, chain: Chain, targets: tuple[str, ...]) -> int:
        ident = len(self._patterns)
        self._patterns.append((pattern, compile_regex(pattern, self.engine), chain))
        self._targets.append(targets)
        self._tests.append(self._patterns[-1][1].found)
        for t in targets:
            self._by_target.setdefault(t, []).append(ident)
        return ident

    def compile(self) -> None:
        """Under RE2, build the prefilter (one set of every pattern: raises ValueError if they
        do not compile together). Plans for the value-by-value scan are built on first use."""
        if self.engine == "re2" and self._patterns:
            self.prefilter = Prefilter(self)

    def plan(self, targets: frozenset[str]) -> TargetPlan:
        """How to scan a value that several targets share (a header is in `headers` and in
        `header:<name>`; a query argument in `args` and `query_args`): one plan for all."""
        plan = self._plans.get(targets)
        if plan is None:
            idents = sorted({i for t in targets for i in self._by_target.get(t, ())})
            chains: dict[Chain, list[int]] = {}
            for i in idents:
                chains.setdefault(self._patterns[i][2], []).append(i)
            plan = self._plans[targets] = TargetPlan(
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
        req.scans[self._key] = self._confirm(req, candidates)

    def hits(self, req: WafRequest) -> HitMap:
        """What matched where in `req`, computed on first use per request and phase."""
        key = self._key
        found = req.scans.get(key)
        if found is not None:
            return found
        if self.prefilter is not None:
            found = req.scans[key] = self._confirm(req, self.prefilter.candidates(req))
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
        req.scans[key] = found
        return found

    def defer(self, ident: int) -> None:
        """Confirm pattern `ident` only when `locate` asks, and only on the values it asks
        about: the second rule of a chain on one value (`same_value_as`) needs it only after
        the first rule matched, and then only on the values that rule matched."""
        self._deferred.add(ident)

    def locate(self, req: WafRequest, ident: int, wanted: set[str]) -> tuple[str, str] | None:
        """(where, matched text) of the first value whose `where` is in `wanted` (`args:q`...)
        that pattern `ident` matches in `req`, or None."""
        hits = self.hits(req)
        if ident in hits:
            for where, text in hits[ident]:
                if where in wanted:
                    return where, self.search(ident, text) or text
            return None
        if ident not in req.pending.get(self._key, ()):
            return None  # the scan ruled it out
        for where, text in self._where(req, ident, {}, wanted):
            return where, self.search(ident, text) or text
        return None

    def _confirm(self, req: WafRequest, candidates: Iterable[int]) -> HitMap:
        """Exactly what the prefilter's candidates match: each pattern on each value of its
        own targets, after its own chain (values without a trigger of the chain as they are).
        Deferred patterns (`defer`) are left pending for `locate`."""
        found: HitMap = {}
        texts: dict[tuple[Chain, str], str] = {}  # what a chain made of a value, for all
        pending: list[int] = []
        for ident in sorted(candidates):
            if ident in self._deferred:
                pending.append(ident)
                continue
            where_values = self._where(req, ident, texts, None)
            if where_values:
                found[ident] = where_values
        req.pending[self._key] = frozenset(pending)
        return found

    def _where(
        self,
        req: WafRequest,
        ident: int,
        texts: dict[tuple[Chain, str], str],
        wanted: set[str] | None,
    ) -> list[tuple[str, str]]:
        """(where, text matched) of every value of pattern `ident`'s targets it matches after
        its chain, once each, in order; only the values whose `where` is in `wanted` when
        given. `texts` keeps what a chain made of a value, for the next pattern."""
        memo = req.memo
        chain = self._patterns[ident][2]
        trigger = self._chain_triggers(chain)
        test = self._tests[ident]
        verdicts = self.verdicts
        tested: dict[str, tuple[bool, str]] = {}  # a value in several targets: once
        where_values: list[tuple[str, str]] = []
        for target in self._targets[ident]:
            for where, raw in req.values(target):
                if wanted is not None and where not in wanted:
                    continue
                seen = tested.get(raw)
                if seen is None:
                    text = raw
                    if trigger is not None:
                        made = texts.get((chain, raw))
                        if made is None:
                            made = texts[(chain, raw)] = (
                                raw if trigger(raw) is None else apply_cached(raw, chain, memo)
                            )
                        text = made
                    if is_short(text):
                        key = (ident, text)
                        matched = verdicts.get(key)
                        if matched is None:
                            matched = verdicts.keep(key, test(text))
                    else:
                        matched = test(text)
                    seen = tested[raw] = (matched, text)
                if seen[0]:
                    where_values.append((where, seen[1]))
        return list(dict.fromkeys(where_values))  # one value, several targets

    def _chain_triggers(self, chain: Chain) -> Callable[[str], object] | None:
        trigger = self._triggers.get(chain, _UNSET)
        if trigger is _UNSET:
            trigger = self._triggers[chain] = chain_trigger(chain)
        return trigger  # type: ignore[return-value]


_UNSET: Final = object()
_NO_PATTERNS: Final[frozenset[int]] = frozenset()


class Prefilter:
    """One RE2 scan of all of a request's values for every pattern of a phase at once.

    What the index's patterns would be confirmed on is joined into one text, one per line,
    and matched by a few multiline RE2 sets of all the index's patterns (`scan_groups`: the
    open-ended ones apart, each `widened`): each distinct value of a
    target some pattern reads as it is, and what each transformation chain makes of each
    distinct value of a target some pattern reads through a chain (the value itself when the
    chains leave it as it is, as they leave most values). A pattern that matches what it
    would be confirmed on matches that text too (see `prefilterable` and `widened`), so a
    pattern the scan
    does not report cannot match anywhere: a clean request costs one scan, and only the
    patterns it reports (usually none) are confirmed value by value. Patterns that cannot be
    prefiltered are always confirmed. A long value's forms are scanned apart, each by the
    patterns of the chains that make it (`_own_forms`: on attack text, much smaller automata).
    """

    def __init__(self, *indexes: RegexIndex) -> None:
        """Several indexes (both phases of a bodiless request) number their patterns one
        after the other: the first index's ids as they are, the next's after them."""
        patterns = [p for index in indexes for p in index._patterns]
        scanned = [i for i, (src, _, _) in enumerate(patterns) if prefilterable(src)]
        self.always = frozenset(range(len(patterns))) - frozenset(scanned)
        engine = indexes[0].engine
        self.scans = _scan_sets(engine, [(i, patterns[i][0], patterns[i][1]) for i in scanned])
        """RE2 sets of the patterns, `widened` and grouped (`scan_groups`): the worst case of
        one set of them all is 1-2 s of CPU for 64 KiB of attack fragments."""
        as_is: set[str] = set()
        chained: set[str] = set()
        for index in indexes:
            for (_, _, chain), targets in zip(index._patterns, index._targets, strict=True):
                (chained if chain else as_is).update(targets)
        roles = {
            t: (t in as_is, t in chained)
            for t in dict.fromkeys(t for index in indexes for t in index._by_target)
            if not t.startswith("header:")
        }
        self.targets = tuple((t, a, c) for t, (a, c) in roles.items() if not _covered(t, roles))
        """(target, read as it is by some pattern, read through a chain by some pattern), but
        not one whose values another lists in every role it has (`_covered`), nor a single
        header: those are `by_header`."""
        every = roles.get("headers", (False, False))
        self.by_header = {
            t: (t in as_is, t in chained)
            for t in dict.fromkeys(t for index in indexes for t in index._by_target)
            if t.startswith("header:")
            and not (every[0] >= (t in as_is) and every[1] >= (t in chained))
        }
        """The roles of each `header:<name>` target some pattern reads (beyond what `headers`
        already has): the request's headers are walked once for all of them, instead of a
        lookup for each (most are absent: the address headers, Range, Transfer-Encoding)."""
        targets_of = [t for index in indexes for t in index._targets]
        self.header_only = frozenset(
            i for i, targets in enumerate(targets_of) if all(t in self.by_header for t in targets)
        )
        """Patterns that read only `by_header` headers: the values they are confirmed on are
        all walked by `by_header`, so what a known value set off elsewhere (a `1` in
        Upgrade-Insecure-Requests and the host-is-an-address pattern) leaves them out."""
        chains = sorted({chain for _, _, chain in patterns if chain})
        self.chain_set = ChainSet(chains)
        scanned_patterns = [(i, *patterns[i]) for i in scanned]
        self.chain_scans = [
            (
                chain,
                _scan_sets(engine, [(i, s, p) for i, s, p, c in scanned_patterns if c == chain]),
            )
            for chain in chains
        ]
        """Per chain, the scan sets of only the patterns read through it (`_split_forms`)."""
        self.needles = trigger_needles(sorted({n for c in chains for n in c}))
        assert self.needles is None or not any("\n" in n for n in self.needles)
        """(No needle holds a line break, so none spans two values joined by one.)"""
        self.forms_of: BoundedMemo[str, tuple[str, ...]] = BoundedMemo()
        """Value -> what the chains make of it (short values, kept across requests)."""
        self.known: BoundedMemo[str, frozenset[int]] = BoundedMemo()
        """Short value -> the patterns the scan reports on its own lines (the value and what
        the chains make of it), for values seen on an earlier request: the same user agent,
        Accept and cookies arrive on request after request, and a request's scan then joins
        only its new values (`candidates`)."""
        self.seen: BoundedMemo[str, bool] = BoundedMemo()
        """Short values seen once, not yet `known` (a value seen only once, as a unique query
        is, is never scanned on its own: that would cost a scan call per new value)."""

    def forget(self) -> None:
        """Drop what is kept across requests (`WafEngine.forget`)."""
        self.forms_of.clear()
        self.known.clear()
        self.seen.clear()

    def candidates(self, req: WafRequest) -> frozenset[int]:
        """The patterns that may match somewhere in `req` (a superset; usually empty). Each
        text is one line, once: a body's fields are in `args` and `body_args`, a header in
        `headers` and `header:<name>`, and scanning them twice finds nothing more."""
        lines: dict[str, None] = {}
        chained: dict[str, None] = {}
        known = self.known
        kept: set[int] = set()  # what known values' own lines set off
        kept_by_header: set[int] = set()  # the same, for the values `by_header` walks
        fresh: dict[str, None] = {}  # short values not known yet
        for target, as_is, through_chain in self.targets:
            for _, value in req.values(target):
                if len(value) <= MEMO_VALUE_MAX:
                    hit = known.get(value)
                    if hit is not None:
                        if hit:
                            kept.update(hit)
                        continue
                    fresh[value] = None
                if as_is:
                    lines[value] = None
                if through_chain:
                    chained[value] = None
        by_header = self.by_header
        if by_header:
            for where, value in req.values("headers"):
                roles = by_header.get(where)
                if roles is not None:
                    if len(value) <= MEMO_VALUE_MAX:
                        hit = known.get(value)
                        if hit is not None:
                            if hit:
                                kept_by_header.update(hit)
                            continue
                        fresh[value] = None
                    if roles[0]:
                        lines[value] = None
                    if roles[1]:
                        chained[value] = None
        found = _NO_PATTERNS
        if chained:
            values = list(chained)
            changing = self._changing(values)
            if changing:
                found = self._add_forms(values, changing, lines, req.memo)
            else:
                lines.update(chained)  # no chain changes any of them
        if lines:
            scanned = self._scanned("\n".join(lines))
            found = found | scanned if found else scanned
        if fresh:
            self._learn(fresh, req.memo)
        if kept:
            kept.difference_update(self.header_only)  # (their headers' values: below)
        if kept_by_header:
            kept.update(kept_by_header)
        if kept:
            found = found | kept
        return found | self.always if self.always else found

    def _scanned(self, text: str) -> frozenset[int]:
        """The patterns the scan sets report in `text` (one pass per set)."""
        return _matched(self.scans, text)

    def _learn(self, fresh: dict[str, None], step_memo: dict[tuple[str, str], str]) -> None:
        """Make `known` the `fresh` values (short, not known) seen on an earlier request: each is
        scanned on its own lines (itself and every form the chains make of it, whatever
        role it had: more lines only report more, never fewer, patterns). A pattern that
        matches what a value would be confirmed on matches one of those lines, so what the
        scan reports there is all that value can set off, on any later request."""
        seen = self.seen
        known = self.known
        for value in fresh:
            if seen.get(value) is None:
                seen.keep(value, True)
                continue
            own = {value: None}
            for form in self.chain_set.forms(value, step_memo):
                own[form] = None
            known.keep(value, self._scanned("\n".join(own)))

    def _changing(self, values: list[str]) -> list[bool]:
        """Per value, whether it holds one of `needles` (so some chain may change it); []
        when none does. Each needle is looked for in the values joined (a fast `find`),
        resumed at the next value after each find, instead of in every value one by one."""
        needles = self.needles
        if needles is None:
            return [True] * len(values)
        joined = "\n".join(values)
        changing: list[bool] = []
        starts: list[int] = []
        for needle in needles:
            at = joined.find(needle)
            i = 0  # the value `at` is in: finds come in order
            while at >= 0:
                if not starts:
                    changing = [False] * len(values)
                    offset = 0
                    for value in values:
                        starts.append(offset)
                        offset += len(value) + 1
                    starts.append(offset)  # one past the end
                while starts[i + 1] <= at:
                    i += 1
                changing[i] = True
                at = joined.find(needle, starts[i + 1])
        return changing

    def _add_forms(
        self,
        values: list[str],
        changing: list[bool],
        lines: dict[str, None],
        step_memo: dict[tuple[str, str], str],
    ) -> frozenset[int]:
        """What the index's chains make of each of `values` (itself, for a value that is not
        `changing`), added to `lines` in order. What they make of a short value is kept across
        requests (`forms_of`). A long value's forms are scanned here, chain by chain
        (`_own_forms`): returns what those scans report."""
        forms_of = self.forms_of
        own: list[dict[str, None]] | None = None
        for i in range(len(values)):  # (an index: a compiled `zip` iterates generically)
            value = values[i]
            if not changing[i]:
                lines[value] = None  # what every chain makes of it (most values)
                continue
            if len(value) >= SPLIT_FORMS_CHARS:
                if own is None:
                    own = [{} for _ in self.chain_scans]
                self._own_forms(value, own, lines, step_memo)
                continue
            forms = forms_of.get(value)
            if forms is None:
                made = self.chain_set.forms(value, step_memo)
                if is_short(value):
                    forms = forms_of.keep(value, tuple(made))
                else:
                    forms = tuple(made)
            for form in forms:
                lines[form] = None
        found = _NO_PATTERNS
        if own is not None:
            for c in range(len(own)):
                if own[c]:
                    found = found | _matched(self.chain_scans[c][1], "\n".join(own[c]))
        return found

    def _own_forms(
        self,
        value: str,
        own: list[dict[str, None]],
        lines: dict[str, None],
        step_memo: dict[tuple[str, str], str],
    ) -> None:
        """What each chain makes of `value`, added to that chain's `own` lines, which only the
        sets of that chain's patterns scan (`chain_scans`); to `lines` if every chain makes the
        same. Each pattern still reads what it is confirmed on, so nothing is lost; a form
        only some chains make (the value with its comments removed, or its backslash escapes
        decoded) is not scanned by every pattern: on 64 KiB of attack fragments, whose
        forms differ, the scan costs about a third (benchmarks/README.md)."""
        made = [apply_cached(value, chain, step_memo) for chain, _ in self.chain_scans]
        if all(form == made[0] for form in made):
            lines[made[0]] = None
            return
        for c in range(len(made)):
            own[c][made[c]] = None


SPLIT_FORMS_CHARS: Final = 4096
"""A value of this many characters or more, when some chain changes it, has its forms scanned
chain by chain (`Prefilter._own_forms`): fewer patterns per text, and on attack text smaller
automata (~3x cheaper on 64 KiB of fragments); shorter values (a 64 KiB form's ~730-character
fields) stay in the one text all patterns scan, which costs fewer passes."""


def _scan_sets(
    engine: RegexEngine, patterns: list[tuple[int, str, Pattern]]
) -> tuple[PatternSet, ...]:
    """`patterns` (id, source, compiled) as the multiline RE2 sets a prefilter scans: each
    `widened`, grouped by `scan_groups`."""
    compiled = {i: p for i, _, p in patterns}
    return tuple(
        PatternSet(engine, [(i, widened(src), compiled[i]) for i, src in group], multiline=True)
        for group in scan_groups([(i, src) for i, src, _ in patterns])
    )


def _matched(scans: tuple[PatternSet, ...], text: str) -> frozenset[int]:
    """The patterns `scans` report in `text` (one pass per set)."""
    raw = text.encode("utf-8", "surrogatepass")
    found = _NO_PATTERNS
    for scan in scans:
        hits = scan.matches_encoded(raw)
        if hits:
            found = found | hits
    return found


def _covered(target: str, roles: dict[str, tuple[bool, bool]]) -> bool:
    """Whether every value of `target` is a value of another target in `roles` that is read
    in every role `target` is (as it is, through a chain): `query_args` and `body_args` of
    `args`. Scanning it too would add no line."""
    found = roles.get("args") if target in ("query_args", "body_args") else None
    if found is None:
        return False
    as_is, chained = roles[target]
    return found[0] >= as_is and found[1] >= chained


class TargetPlan:
    """How one target is scanned: all patterns at once for untouched values, else per chain."""

    def __init__(
        self,
        index: RegexIndex,
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
