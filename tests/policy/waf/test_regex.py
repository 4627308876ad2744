"""Both regex engines behind one interface, and the 2019-07-02 pattern under each.

The catastrophic pattern is exercised here with a short input only (its cost under `re` grows
super-linearly; `benchmarks/waf.py` shows the growth): tests never assert speed.
"""

from __future__ import annotations

import pytest

from edgelab.policy.waf.regex import REGEX_ENGINES, PatternSet, RegexEngine, compile_regex
from edgelab.policy.waf.rules import incident_2019_pattern


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


def test_re2_search_falls_back_to_the_wrapper_without_the_private_match() -> None:
    """`Match` and its anchor are the binding's private API: without them (a later google-re2)
    the wrapper's `search` answers, with the same matched text."""
    fast = compile_regex(r"é+\w*|[\d.:]+$", "re2")
    plain = compile_regex(r"é+\w*|[\d.:]+$", "re2")
    plain._match = None  # type: ignore[attr-defined]  # as when the binding lacks it
    for text in ["caféé au lait", "127.0.0.1:8080", "none", ""]:
        assert plain.search(text) == fast.search(text), text
    assert plain.search("caféé au lait") == "éé"
