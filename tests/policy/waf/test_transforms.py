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
    [
        "%41",
        "a+b",
        "&amp;",
        "a  b",
        "a\tb",
        "x\x00",
        "/*c*/",
        "\\x41",
        " pad",
        "Upper",
        "é",
        "?a=1&b=2&param=3",
        "&notice &reg=1 &copy2 &#x41 &#65 &AMP &ampx &lt;b&gt; &zz; &",
    ],
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


def test_url_decode_never_makes_a_lone_surrogate() -> None:
    """IIS `%uXXXX` of a surrogate is U+FFFD (libinjection's UTF-8 encoding raised on it)."""
    assert TRANSFORMS["url_decode"]("a%uD800b%udfff%u0041") == "a\ufffdb\ufffdA"
    assert TRANSFORMS["url_decode_repeat"]("%25uD83D%25uDE00") == "\ufffd\ufffd"


def test_entity_trigger_finds_every_value_html_unescape_changes() -> None:
    """Exhaustive over `&` + every entity name and its prefixes, with and without `;`, followed
    by text: whatever `html.unescape` changes, the trigger must see."""
    import html
    import html.entities

    search = chain_trigger(["html_entity_decode"])
    assert search is not None
    names = {n.rstrip(";") for n in html.entities.html5}
    stems = {n[:i] for n in names for i in range(1, len(n) + 1)}
    for stem in stems:
        for value in (f"&{stem}", f"&{stem};", f"x&{stem}ab=1", f"&{stem}&#"):
            if html.unescape(value) != value:
                assert search(value) is not None, value


def test_fast_unquote_decodes_as_the_standard_library() -> None:
    """`unquote_plus` takes a C shortcut; on every input it must equal what `parse_qsl` does."""
    import random
    from urllib.parse import unquote

    from edgelab.policy.waf.transforms import unquote_plus, unquote_plus_checked

    pieces = ["a", "+", "%", "%2", "%20", "%2B", "%2b", "%25", "%26", "%3D", "%3d", "%C3%A9",
              "%C3", "%28", "%E2%82%AC", "%F0%9F%98%80", "%ED%A0%80", "%FF", "%00", "%u0041",
              "é", "€", " ", "&", "=", "%zz", "%%", "%0", "100% ", "%\n", "%٣٣", "%g1"]  # fmt: skip
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        expected = unquote(text.replace("+", " "), errors="replace")
        assert unquote_plus(text) == expected, text
        assert unquote_plus_checked(text) == expected, text  # (for a yarl without the option)


def test_fast_unquote_replaces_invalid_utf8_as_the_standard_library() -> None:
    """Every two- and three-byte escape sequence a lead byte can start: valid, overlong,
    surrogate, cut short or followed by text, decoded as `parse_qsl` does."""
    from urllib.parse import unquote

    from edgelab.policy.waf.transforms import unquote_plus

    for lead in range(0x80, 0x100):
        for second in range(0x70, 0xD0, 3):
            for tail in ("", "%80", "%BF", "%41", "é", "%C3%A9", "+"):
                text = f"%{lead:02X}%{second:02x}{tail}"
                assert unquote_plus(text) == unquote(text.replace("+", " "), errors="replace")


def test_chain_set_forms_are_what_each_chain_makes() -> None:
    """`ChainSet` shares steps and stops early; its forms must equal the chains run one by one."""
    import random

    from edgelab.policy.waf.transforms import ChainSet

    chains = [
        ("url_decode_repeat", "html_entity_decode", "escape_decode", "remove_nulls"),
        ("url_decode_repeat", "html_entity_decode", "normalize_slashes", "remove_nulls"),
        ("url_decode_repeat", "remove_nulls"),
        ("url_decode_repeat", "remove_nulls", "replace_comments"),
        ("lowercase", "compress_whitespace"),
        (),
    ]
    chain_set = ChainSet(chains)
    pieces = ["a", "%", "%2f", "%5c", "\\", "&lt;", "&para", "+", "/*", "*/", "%00", "\x00",
              "A", " ", "\t", "&#x3c;", "%26lt;", "\\x3c", "%252f", "é"]  # fmt: skip
    rng = random.Random(11)
    for _ in range(5000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 7)))
        expected = {apply_transforms(value, chain) for chain in chains}
        assert chain_set.forms(value, {}) == expected, value


def test_a_full_memo_starts_over_instead_of_growing() -> None:
    from edgelab.policy.waf.memo import MEMO_ENTRIES_MAX, BoundedMemo

    memo: BoundedMemo[str, int] = BoundedMemo()
    for i in range(MEMO_ENTRIES_MAX + 10):
        assert memo.keep(str(i), i) == i
    assert len(memo) == 10
    assert memo.get(str(MEMO_ENTRIES_MAX + 9)) == MEMO_ENTRIES_MAX + 9


def test_a_trigger_answered_by_in_agrees_with_the_trigger_patterns() -> None:
    """`chain_trigger` answers with `in` for the transforms in EXACT_TRIGGERS and searches
    the others' patterns: the same answer as searching every pattern of the chain."""
    import random
    import re

    from edgelab.policy.waf.transforms import EXACT_TRIGGERS

    pieces = ["a", "A", "%", "+", "&", "&lt;", "&para", "&#", "\\", "/", "*", "/*", "\x00",
              " ", "\t", "\n", "é", "Ω"]  # fmt: skip
    names = sorted(TRIGGERS)
    rng = random.Random(3)
    for _ in range(150):
        chain = rng.sample(names, rng.randint(1, 4))
        trigger = chain_trigger(chain)
        assert trigger is not None
        search = re.compile("|".join(TRIGGERS[n] for n in chain)).search
        for _ in range(40):
            value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
            assert (trigger(value) is not None) == (search(value) is not None), (chain, value)
    assert EXACT_TRIGGERS < set(TRIGGERS)


def test_url_decode_repeat_stops_only_when_another_round_changes_nothing() -> None:
    import random

    from edgelab.policy.waf.transforms import MAX_DECODE_ROUNDS, may_url_decode, url_decode

    def every_round(value: str) -> str:
        for _ in range(MAX_DECODE_ROUNDS):
            decoded = url_decode(value)
            if decoded == value:
                break
            value = decoded
        return value

    pieces = ["a", "+", "%", "%2", "%25", "%2525", "%252B", "%41", "%u0041", "%U00e9", "%u12",
              "%C3%A9", "%C3", "%zz", "%%", " ", "é", "\x00", "%u0025", "%u00", "100% "]  # fmt: skip
    rng = random.Random(5)
    unchanged = 0
    for _ in range(5000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert apply_transforms(value, ("url_decode_repeat",)) == every_round(value), value
        if not may_url_decode(value):
            unchanged += 1
            assert url_decode(value) == value, value
    assert unchanged > 100


def test_may_hold_entity_answers_as_the_entity_search() -> None:
    """`may_hold_entity` skips `&`s no entity can start at; it must answer as a search of
    ENTITY_TRIGGER does, on `&` in every company."""
    import random
    import re

    from edgelab.policy.waf.transforms import ENTITY_TRIGGER, may_hold_entity

    search = re.compile(ENTITY_TRIGGER).search
    pieces = ["&", "#", ";", " ", "\t", "\n", "\f", "<", "a", "amp", "lt", "para", "x", "3c",
              "AElig", "=", "qty", "é", "&&", "&;", "&#", "&#x", "\r", "q=", "page", "aelig",
              "nbsp", "copy", "Copy", "ab" * 8, "c" * 15, "k"]  # fmt: skip
    rng = random.Random(3)
    held = 0
    for _ in range(30_000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        expected = search(value) is not None
        assert may_hold_entity(value) == expected, value
        held += expected
    assert 1000 < held < 29_000


def test_a_chain_step_is_its_transform_on_every_value() -> None:
    """A step runs a SELF_GUARDED transform without testing its trigger first, and any other
    only when its trigger is in the value: either way the text out is the transform's."""
    import random

    from edgelab.policy.waf.transforms import _STEPS, SELF_GUARDED

    pieces = ["%41", "%2", "+", "&amp;", "&lt", "& ", "\\x3c", "\\", "/*", "*/", "\x00", " ",
              "\t", "\n", "A", "é", "%u0041", "&#60;", "a"]  # fmt: skip
    rng = random.Random(13)
    assert SELF_GUARDED < set(TRANSFORMS)
    for _ in range(4000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 7)))
        for name, fn in TRANSFORMS.items():
            assert _STEPS[name](value) == fn(value), (name, value)


def test_first_escape_finds_what_the_escape_patterns_find() -> None:
    """`first_escape` looks at each `%` instead of searching with a regex: on every input it
    must find the first match of `%XX` (and with `unicode`, of `%uXXXX` / `%UXXXX` too)."""
    import random
    import re

    from edgelab.policy.waf.transforms import _URL_ESCAPE, first_escape

    percent_hex = re.compile(r"%[0-9A-Fa-f]{2}")
    pieces = ["a", "%", "%2", "%20", "%g0", "%0g", "%%41", "%u", "%u004", "%u0041", "%U00e9",
              "%uzzzz", "%u00e", "u", "F", "f", "9", "٣", "é", " ", "+", "100% sure", "%\n"]  # fmt: skip
    rng = random.Random(13)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        plain = percent_hex.search(text)
        assert first_escape(text, False) == (plain.start() if plain else -1), text
        either = _URL_ESCAPE.search(text)
        assert first_escape(text, True) == (either.start() if either else -1), text


def test_url_decode_of_free_text_decodes_as_before() -> None:
    """A value whose `%`s start no escape skips the decoder: the same text as decoding it."""
    from urllib.parse import unquote

    from edgelab.policy.waf.transforms import url_decode

    for value in ("I paid 100% of it", "50%+ off+now", "100%", "%", "a%u12+b", "%zz%%"):
        assert url_decode(value) == unquote(value.replace("+", " "), errors="replace"), value
    assert url_decode("%U0041%u0041%41") == "%U0041AA"


def test_holds_answers_as_in() -> None:
    """`holds` looks for a long needle's last character first; the answer is still `in`'s."""
    import random

    from edgelab.policy.waf.transforms import holds

    pieces = ["/", "*", "/*", "*/", "a", "é", "\\", "\x00", "&"]
    rng = random.Random(17)
    for _ in range(3000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        for needle in ("/*", "*", "\x00", "&#", "a/"):
            assert holds(value, needle) == (needle in value), (value, needle)
