from __future__ import annotations

import pytest

from edgelab.policy.waf.transforms import TRANSFORMS, TRIGGERS, apply_transforms, chain_trigger


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("url_decode", "%27%20OR%201%3D1", "' OR 1=1"),
        ("url_decode", "a+b", "a b"),
        ("url_decode", "%u003cscript", "<script"),
        ("url_decode", "%2527", "%27"),
        ("url_decode", "%ff", "\ufffd"),
        ("url_decode_repeat", "%252527", "'"),
        ("url_decode_repeat", "plain", "plain"),
        ("lowercase", "UnIoN SeLeCt", "union select"),
        ("html_entity_decode", "&lt;script&gt;", "<script>"),
        ("html_entity_decode", "&#60;&#x3c;&#X3C", "<<<"),
        ("compress_whitespace", "a \t\n\x0b b", "a b"),
        ("remove_nulls", "ja\x00vascript", "javascript"),
        ("replace_comments", "UN/**/ION/*x*/SELECT", "UN ION SELECT"),
        ("replace_comments", "1/*unterminated", "1 "),
        ("escape_decode", r"\x3cscript\u003e\u{3c}", "<script><"),
        ("normalize_slashes", r"..\..\win.ini", "../../win.ini"),
        ("trim", "  x  ", "x"),
    ],
)
def test_each_transform(name: str, value: str, expected: str) -> None:
    assert TRANSFORMS[name](value) == expected


def test_transforms_apply_in_order() -> None:
    assert apply_transforms("%253CSCRIPT%253E", ("url_decode_repeat", "lowercase")) == "<script>"
    assert apply_transforms("%253CSCRIPT%253E", ("lowercase", "url_decode")) == "%3cscript%3e"


def test_every_transform_has_a_trigger() -> None:
    assert set(TRIGGERS) == set(TRANSFORMS)


@pytest.mark.parametrize(
    "value",
    ["%41", "a+b", "&amp;", "a  b", "a\tb", "x\x00", "/*c*/", "\\x41", " pad", "Upper", "é"],
)
def test_a_value_without_triggers_is_unchanged_by_every_transform(value: str) -> None:
    """The engine skips a chain for values without its triggers; that must be exact."""
    for name, fn in TRANSFORMS.items():
        search = chain_trigger([name])
        assert search is not None
        if search(value) is None:
            assert fn(value) == value, name
    clean = "plain-value_123.txt"
    for name, fn in TRANSFORMS.items():
        if name != "lowercase":
            assert fn(clean) == clean, name


def test_escape_decode_never_makes_a_lone_surrogate() -> None:
    assert TRANSFORMS["escape_decode"](r"\ud800x") == "\ufffdx"
