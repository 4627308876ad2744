from __future__ import annotations

import pytest

from edgelab.policy.waf.operators import compile_operator
from edgelab.policy.waf.regex import REGEX_ENGINES, RegexEngine


@pytest.mark.parametrize("engine", REGEX_ENGINES)
@pytest.mark.parametrize(
    ("op", "arg", "value", "hit"),
    [
        ("regex", r"union\s+select", "1 UNION  select 2", "UNION  select"),
        ("regex", r"union\s+select", "trade union", None),
        ("contains", ["sqlmap", "nikto"], "Mozilla sqlmap/1.7", "sqlmap"),
        ("contains", "nikto", "Mozilla", None),
        ("equals", ["GET", "HEAD"], "get", "get"),
        ("equals", ["GET", "HEAD"], "GETS", None),
        ("prefix", ["curl/", "wget/"], "curl/8.4", "curl/8.4"),
        ("prefix", ["curl/"], "my curl/8.4", None),
        ("ip_match", ["10.0.0.0/8", "2001:db8::/32"], "10.1.2.3", "10.1.2.3"),
        ("ip_match", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", "2001:db8::1"),
        ("ip_match", ["10.0.0.0/8"], "192.0.2.1", None),
        ("ip_match", ["10.0.0.0/8"], "not-an-ip", None),
        ("gt", 255, "256", "256"),
        ("gt", 255, "255", None),
        ("gt", 0, "abc", None),
        ("length_gt", 3, "abcd", "abcd"),
        ("length_gt", 3, "abc", None),
    ],
)
def test_operator(engine: RegexEngine, op: str, arg: object, value: str, hit: str | None) -> None:
    assert compile_operator(op, arg, engine)(value) == hit


@pytest.mark.parametrize(
    ("value", "attack"),
    [
        ("1' OR '1'='1", True),
        ("-1 UNION SELECT username, password FROM users", True),
        ("admin'--", True),
        ("O'Reilly books", False),
        ("hello world", False),
        ("x", False),
    ],
)
def test_detect_sqli_is_libinjection(value: str, attack: bool) -> None:
    assert (compile_operator("detect_sqli", None, "re2")(value) is not None) is attack


@pytest.mark.parametrize(
    ("value", "attack"),
    [
        ("<img src=x onerror=alert(1)>", True),
        ('" onmouseover="alert(1)', True),
        ("<script>alert(1)</script>", True),
        ("fish & chips < 10 pounds", False),
        ("a = b", False),
    ],
)
def test_detect_xss_is_libinjection(value: str, attack: bool) -> None:
    assert (compile_operator("detect_xss", None, "re2")(value) is not None) is attack


@pytest.mark.parametrize(
    ("op", "arg"),
    [
        ("regex", 5),
        ("contains", []),
        ("gt", "5"),
        ("ip_match", ["10.0.0.0/33"]),
        ("detect_sqli", "x"),
        ("nope", None),
    ],
)
def test_bad_arguments_are_refused(op: str, arg: object) -> None:
    with pytest.raises(ValueError):
        compile_operator(op, arg, "re2")


def test_lookaround_compiles_under_re_only() -> None:
    assert compile_operator("regex", "a(?=b)", "re")("ab") == "a"
    with pytest.raises(ValueError, match="re2"):
        compile_operator("regex", "a(?=b)", "re2")


def test_the_xss_tag_check_answers_as_its_pattern() -> None:
    """`xss_possible` looks at each `<` without a regex call; where `XSS_TAG` (its spec)
    matches and where it does not must be the same, cases and odd characters included."""
    import random

    from edgelab.policy.waf.operators import XSS_TAG, _xss_tag_at

    pieces = ["<", "/", ">", "!", "?", "%", "\x00", "a", "B", " ", "script", "SCRIPT", "Svg",
              "iframe", "base", "bas", "xs", "xsl", "vmlFrame", "\u212a", "\u0130", "é",
              "link", "l\u0131nk", "meta", "3", "<b>", "</b>", "<3", "\ud800"]  # fmt: skip
    rng = random.Random(11)
    matched = 0
    for _ in range(40_000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        for lt, char in enumerate(value):
            if char == "<":
                expected = XSS_TAG.match(value, lt) is not None
                assert _xss_tag_at(value, lt) == expected, (value, lt)
                matched += expected
    assert matched > 1000
