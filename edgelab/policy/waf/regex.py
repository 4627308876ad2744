r"""Two regular-expression engines behind one interface: Python's `re` and RE2.

    pattern = compile_regex(r"union\s+select", "re2")
    pattern.search("1 union  select 2")     # "union  select" (the matched text) or None

`re` backtracks, like the PCRE in Cloudflare's 2019 Lua WAF: a pattern such as `.*(?:.*=.*)`
costs time super-linear in the input, and the search holds the event loop while it runs.
RE2 (`google-re2`) runs in time linear in the input for every pattern, at the price of no
backreferences or lookaround; rules shipped with edgelab compile under both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Literal, Protocol

import re2

RegexEngine = Literal["re", "re2"]
_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
"""The binding's own anchor constant (private API: None if a google-re2 release drops it)."""
REGEX_ENGINES: tuple[RegexEngine, ...] = ("re", "re2")


class Pattern(Protocol):
    """A compiled pattern: the first match in `text`, or None; or only whether there is one."""

    def search(self, text: str) -> str | None: ...

    def found(self, text: str) -> bool: ...


class _RePattern:
    def __init__(self, pattern: str) -> None:
        self._search = re.compile(pattern, re.IGNORECASE | re.DOTALL).search

    def search(self, text: str) -> str | None:
        m = self._search(text)
        return None if m is None else m.group(0)

    def found(self, text: str) -> bool:
        return self._search(text) is not None


class _Re2Pattern:
    def __init__(self, pattern: str) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.dot_nl = True
        options.max_mem = 64 << 20
        options.log_errors = False
        options.never_capture = True
        compiled = re2.compile(pattern, options)
        # The binding's own `Match`: the wrapper's `search` builds a match object with every
        # offset mapped back to characters, several times the cost of the search itself. It is
        # private API, so a google-re2 without it gets the wrapper's `search`.
        match = getattr(getattr(compiled, "_regexp", None), "Match", None)
        self._match: Callable[[object, bytes, int, int], list[tuple[int, int]]] | None = (
            match if _UNANCHORED is not None else None
        )
        self._wrapper_search = compiled.search

    def search(self, text: str) -> str | None:
        match = self._match
        if match is None:
            m = self._wrapper_search(text)
            return None if m is None else str(m.group(0))
        raw = text.encode("utf-8")  # strict, as the wrapper encodes
        start, end = match(_UNANCHORED, raw, 0, len(raw))[0]
        return None if start < 0 else raw[start:end].decode("utf-8")

    def found(self, text: str) -> bool:
        """Whether it matches: the search stops at the first match, where an RE2 set (even
        of one pattern) reads the whole text (64 KiB of attack text: 5-8x less time)."""
        match = self._match
        if match is None:
            return self._wrapper_search(text) is not None
        raw = text.encode("utf-8", "surrogatepass")
        return bool(match(_UNANCHORED, raw, 0, len(raw))[0][0] >= 0)


def compile_regex(pattern: str, engine: RegexEngine) -> Pattern:
    """Compile case-insensitive, `.` matching newlines; raises ValueError if it does not compile."""
    try:
        if engine == "re":
            return _RePattern(pattern)
        return _Re2Pattern(pattern)
    except (re.error, re2.error) as e:
        raise ValueError(f"regex does not compile under {engine}: {e}") from e


class PatternSet:
    r"""Many patterns matched against one text in one pass: which of them match.

        bank = PatternSet("re2", [(7, r"union\s+select", compile_regex(r"union\s+select", "re2"))])
        bank.matches("1 union select 2")   # frozenset({7}): the ids given with the patterns

    The engine groups the regex rules that inspect the same target into one set, so a value is
    scanned once for all of them instead of once per rule. Under RE2 this is `re2.Set` (one
    automaton, linear time). Under `re` the patterns run one by one, each with its own
    backtracking cost, as in PCRE (one alternation of them all measured slower: it defeats
    `re`'s literal-prefix scans).
    """

    def __init__(
        self,
        engine: RegexEngine,
        patterns: list[tuple[int, str, Pattern]],
        multiline: bool = False,
    ) -> None:
        """`multiline`: `^` and `$` also match at line breaks (for `prefilter_text`)."""
        self.engine = engine
        self._patterns = [(ident, p) for ident, _, p in patterns]
        self._ids = [ident for ident, _, _ in patterns]
        self._set: re2.Set | None = None
        if engine == "re2" and patterns:
            options = re2.Options()
            options.case_sensitive = False
            options.dot_nl = True
            options.log_errors = False
            options.max_mem = 256 << 20
            s = re2.Set.SearchSet(options)
            for _, src, _ in patterns:
                s.Add(f"(?m){src}" if multiline else src)
            s.Compile()
            self._set = s
            # The binding's own `Match`, without the wrapper's per-call type checks.
            self._match: Callable[[bytes], list[int] | None] = s._set.Match

    def any(self, text: str) -> bool:
        """Whether any pattern matches `text` (cheaper than `matches` or a `search`: under
        RE2 no match object and no set of ids is built)."""
        if self._set is not None:
            return bool(self._match(text.encode("utf-8", "surrogatepass")))
        return any(p.search(text) is not None for _, p in self._patterns)

    def matches(self, text: str) -> frozenset[int]:
        if self._set is not None:
            return self.matches_encoded(text.encode("utf-8", "surrogatepass"))
        return frozenset(i for i, p in self._patterns if p.search(text) is not None)

    def matches_encoded(self, raw: bytes) -> frozenset[int]:
        """`matches` of a text already encoded (RE2 only: several sets scan one text)."""
        found = self._match(raw)
        return frozenset([self._ids[i] for i in found]) if found else _NONE


_NONE: frozenset[int] = frozenset()

_ANCHORS = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-")
"""Text anchors and inline flag changes: what a pattern needs to keep out of a prefilter."""


def prefilterable(pattern: str) -> bool:
    """Whether a match of `pattern` in a text still matches once the text is one line of
    `"\\n".join(texts)` under `multiline` (`^`/`$` then hold at the line's ends; `\\b` sees a
    line break as it sees a text's end). `\\A`, `\\z` and a flag turned off inline
    (`(?-m)`) would not: such patterns are checked on each text on their own."""
    return _ANCHORS.search(pattern) is None


_COUNTED: Final = re.compile(r"\{(\d+)(?:,(\d*))?\}")
WIDE_RANGE: Final = 8
"""A counted repetition `{m,n}` with `n - m` at least this is wide (`[^>]{0,300}`)."""
_OPEN_ENDED: Final = re.compile(r"(?:\[\^(?:\\.|[^\]])*\]|(?<!\\)\.)(?:[*+]|\{\d+,\d*\})")
"""A broad class (`.`, a negated class) repeated without a tight bound."""
OPEN_ENDED_PER_SET: Final = 10
"""Open-ended patterns (`open_ended`) scanned in one RE2 set at most (see `scan_groups`)."""


def widened(pattern: str) -> str:
    """`pattern` with every wide counted repetition (`{0,300}`, `{1,200}?`) made unbounded
    (`*`, `+`, `{m,}`): it matches wherever `pattern` does (and maybe more), which is all a
    prefilter needs, and RE2 compiles `{0,300}` as 300 copies of what it repeats, so an
    automaton of many such patterns is much larger than one of their widened forms."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i) and pattern.find(":]", i + 2) > 0:
                end = pattern.find(":]", i + 2) + 2  # `[:alpha:]` inside a class
                out.append(pattern[i:end])
                i = end
                continue
            in_class = c != "]"
        elif c == "[":
            in_class = True
            start = i + 1 + pattern.startswith("^", i + 1)
            start += pattern.startswith("]", start)  # a leading `]` is a literal
            out.append(pattern[i:start])
            i = start
            continue
        elif c == "{":
            m = _COUNTED.match(pattern, i)
            if m is not None and m.group(2) and int(m.group(2)) - int(m.group(1)) >= WIDE_RANGE:
                low = int(m.group(1))
                out.append("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def open_ended(pattern: str) -> bool:
    """Whether a match of `pattern` can stay open across a long stretch of text (`<[a-z][^>]*`
    until the next `>`). Each such pattern multiplies the states an automaton of several
    patterns goes through, and RE2 builds each new state as it reads: with all the managed
    patterns in one set, 64 KiB of attack fragments cost 1.3-2.5 s of CPU (measured,
    `benchmarks/waf.py` section 4), with the open-ended ones spread over two sets 0.1-0.15 s."""
    return _OPEN_ENDED.search(pattern) is not None


def scan_groups(patterns: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """`patterns` (id, source) split into the RE2 sets a prefilter scans: the `open_ended`
    ones at most OPEN_ENDED_PER_SET to a set, the others with the first (they add little to
    its worst case). Each set is one more pass over the text: with the managed rules (19
    open-ended patterns, two sets) a typical GET costs ~3% more instructions and a 64 KiB form
    ~9%, for a worst case about ten times cheaper than one set of them all (more, smaller
    sets: a better worst case, more passes; measured in benchmarks/README.md)."""
    closed = [p for p in patterns if not open_ended(p[1])]
    opened = [p for p in patterns if open_ended(p[1])]
    sets = [opened[k : k + OPEN_ENDED_PER_SET] for k in range(0, len(opened), OPEN_ENDED_PER_SET)]
    if not sets:
        return [closed] if closed else []
    sets[0] = closed + sets[0]
    return sets
