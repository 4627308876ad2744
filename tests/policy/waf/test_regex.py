"""Both regex engines behind one interface, and the 2019-07-02 pattern under each.

The catastrophic pattern is exercised here with a short input only (its cost under `re` grows
super-linearly; `benchmarks/waf.py` shows the growth): tests never assert speed.
"""

from __future__ import annotations

import random

import pytest

from edgelab.policy.waf.regex import (
    OPEN_ENDED_PER_SET,
    REGEX_ENGINES,
    PatternSet,
    RegexEngine,
    compile_regex,
    open_ended,
    scan_groups,
    widened,
)
from edgelab.policy.waf.rules import incident_2019_pattern, load_default_ruleset


def incident_pattern() -> str:
    pattern = incident_2019_pattern()
    assert ".*(?:.*=.*)" in pattern
    return pattern


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_case_insensitive_and_dot_matches_newline(engine: RegexEngine) -> None:
    p = compile_regex(r"union.select", engine)
    assert p.search("1 UNION\nSELECT") == "UNION\nSELECT"
    assert p.search("nothing here") is None


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_the_2019_pattern_matches_the_same_under_both_engines(engine: RegexEngine) -> None:
    p = compile_regex(incident_pattern(), engine)
    assert p.search("x=1;a=b") is not None  # the rule's intent: something=something after JS
    assert p.search("-" * 12) is None  # no '=': the backtracking case, kept short here
    assert p.search("hello world") is None


def test_the_2019_pattern_under_re2_on_a_long_input() -> None:
    """What would stall `re` for far longer than the test timeout is plain work for RE2."""
    assert compile_regex(incident_pattern(), "re2").search("-" * 100_000) is None


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_pattern_set_reports_which_patterns_match(engine: RegexEngine) -> None:
    sources = [(10, r"union\s+select"), (11, r"<script"), (12, r"etc/passwd")]
    bank = PatternSet(engine, [(i, s, compile_regex(s, engine)) for i, s in sources])
    assert bank.matches("1 union select <SCRIPT>") == {10, 11}
    assert bank.matches("/etc/passwd") == {12}
    assert bank.matches("benign") == frozenset()


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_pattern_set_any_says_whether_one_matches(engine: RegexEngine) -> None:
    sources = [(1, r"union\s+select"), (2, r"^admin$")]
    bank = PatternSet(engine, [(i, s, compile_regex(s, engine)) for i, s in sources])
    assert bank.any("1 UNION  select 2")
    assert bank.any("admin")
    assert not bank.any("administrator")
    assert not bank.any("")


def test_re2_search_returns_what_the_wrapper_and_re_find() -> None:
    """RE2's search calls the binding's `Match` itself and slices the UTF-8 bytes; the matched
    text must be the wrapper's (and `re`'s, for these patterns), non-ASCII text included."""
    import re

    import re2

    cases = [
        (r"[\d.:]+$", ["127.0.0.1:8080", "host 10.0.0.1", "none"]),
        (r"é+\w*", ["caféé au lait", "naïve", "x"]),
        (r"<scr\w*", ["€ <script>", "<SCRIPT src=x>", "<b>"]),
        (r"a*", ["", "bbb", "aaab"]),  # empty matches are matches
        (r"\x{1F600}.", ["smile \U0001f600! done", "no"]),
    ]
    options = re2.Options()
    options.case_sensitive = False
    options.dot_nl = True
    for pattern, texts in cases:
        ours = compile_regex(pattern, "re2")
        wrapper = re2.compile(pattern, options)
        for text in texts:
            m = wrapper.search(text)
            assert ours.search(text) == (None if m is None else m.group(0)), (pattern, text)
            r = re.search(pattern.replace(r"\x{1F600}", "\U0001f600"), text, re.I | re.S)
            assert ours.search(text) == (None if r is None else r.group(0)), (pattern, text)


@pytest.mark.parametrize("engine", REGEX_ENGINES)
def test_found_says_whether_search_and_a_set_of_the_pattern_find_a_match(
    engine: RegexEngine,
) -> None:
    """`found` (what confirms a prefilter's candidates) stops at the first match; it must
    answer as a search and a set of the one pattern do, on the managed patterns and texts of
    attack fragments, benign text and non-ASCII, short and 20 KiB long."""
    pieces = "select union from or 1=1 ' \" -- # /* <script> <img src=x onerror= javascript: ../ /etc/passwd ; | $( ` ${ alert( sleep( café naïve € \U0001f600 the quick brown fox".split()
    rnd = random.Random(11)
    texts = ["", "plain words only"] + [
        "".join(rnd.choice(pieces) + rnd.choice(["", " ", "\n", "="]) for _ in range(n))
        for n in (4, 40, 4000)
        for _ in range(8)
    ]
    hits = 0
    for source in _managed_patterns():
        pattern = compile_regex(source, engine)
        one = PatternSet(engine, [(0, source, pattern)])
        for text in texts:
            found = pattern.found(text)
            assert found == (pattern.search(text) is not None) == one.any(text), (source, text)
            hits += found
    assert hits > 100  # the texts exercised both answers


def test_re2_search_falls_back_to_the_wrapper_without_the_private_match() -> None:
    """`Match` and its anchor are the binding's private API: without them (a later google-re2)
    the wrapper's `search` answers, with the same matched text."""
    fast = compile_regex(r"é+\w*|[\d.:]+$", "re2")
    plain = compile_regex(r"é+\w*|[\d.:]+$", "re2")
    plain._match = None  # type: ignore[attr-defined]  # as when the binding lacks it
    for text in ["caféé au lait", "127.0.0.1:8080", "none", ""]:
        assert plain.search(text) == fast.search(text), text
    assert plain.search("caféé au lait") == "éé"
    assert [plain.found(t) for t in ("caféé", "1.2", "none")] == [True, True, False]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"<[a-z][^>]{0,300}?\s", r"<[a-z][^>]*?\s"),  # wide: unbounded, still lazy
        (r"\bselect\s[\w,]{1,200}?\sfrom", r"\bselect\s[\w,]+?\sfrom"),
        (r"a{3,40}b", r"a{3,}b"),
        (r"[0-9]{15}|x{2,5}|y{2,}", r"[0-9]{15}|x{2,5}|y{2,}"),  # exact, narrow, open: as is
        (r"\{0,300}", r"\{0,300}"),  # an escaped brace is a literal
        (r"[{0,300}]", r"[{0,300}]"),  # so is one in a class
        (r"[]{0,300}]x", r"[]{0,300}]x"),  # a leading `]` does not close the class
        (r"[^\]{]{0,20}", r"[^\]{]*"),
        (r"[[:alpha:]{0,9}]{0,30}", r"[[:alpha:]{0,9}]*"),
    ],
)
def test_widened_makes_only_wide_counted_ranges_unbounded(pattern: str, expected: str) -> None:
    assert widened(pattern) == expected


def _managed_patterns() -> list[str]:
    return list(
        dict.fromkeys(
            str(c.arg)
            for rule in load_default_ruleset().all_rules()
            for c in rule.when
            if c.op == "regex"
        )
    )


def test_widened_patterns_match_wherever_the_managed_ones_do() -> None:
    """A prefilter scans the widened forms: each must match every text its pattern matches.
    Texts: fragments of attacks and of the patterns' own literals, so most patterns match some."""
    patterns = _managed_patterns()
    assert sum(widened(p) != p for p in patterns) >= 5  # the managed rules have wide ranges
    pieces = "select union from where or and 1=1 ' \" -- # /* */ < > <script> <img src=x onerror= javascript: ../ /etc/passwd ; | $( ` ${ alert( eval( sleep( concat( .ssh/ id_rsa cat /bin/sh".split()
    rnd = random.Random(5)
    texts = [
        "".join(rnd.choice(pieces) + rnd.choice(["", " ", "\n", "=", "("]) for _ in range(n))
        for n in (3, 8, 30, 120)
        for _ in range(60)
    ]
    matched = 0
    for p in patterns:
        original, wide = compile_regex(p, "re2"), compile_regex(widened(p), "re2")
        for text in texts:
            if original.search(text) is not None:
                matched += 1
                assert wide.search(text) is not None, (p, text)
    assert matched > 500  # the texts exercised the patterns


def test_scan_groups_keep_every_pattern_once_and_open_ended_ones_spread() -> None:
    patterns = list(enumerate(_managed_patterns()))
    groups = scan_groups(patterns)
    assert sorted(p for g in groups for p in g) == sorted(patterns)
    assert all(open_ended(src) for g in groups[1:] for _, src in g)  # the rest: with the first
    assert all(sum(open_ended(src) for _, src in g) <= OPEN_ENDED_PER_SET for g in groups)
    assert len(groups) >= 2  # the managed rules have many open-ended patterns
    assert scan_groups([(1, "abc"), (2, "d+")]) == [[(1, "abc"), (2, "d+")]]
    assert scan_groups([]) == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"<[a-z][^>]*\son", True),
        (r"(?:^|;)\s*cat\s.*passwd", True),
        (r"<[a-z][^>]{0,300}?\s", True),
        (r"\bunion\s+select\b", False),
        (r"\.{2,}/", False),  # an escaped dot is a literal
        (r"[0-9]{15}", False),
    ],
)
def test_open_ended_patterns_repeat_a_broad_class(pattern: str, expected: bool) -> None:
    assert open_ended(pattern) is expected
