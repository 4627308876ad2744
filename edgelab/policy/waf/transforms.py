"""Transformations applied to a value before an operator sees it, as real WAFs apply them.

    apply_transforms("%2527%20OR%201=1", ("url_decode_repeat", "lowercase"))   # "' or 1=1"

Each is a pure `str -> str`. A rule lists them in order; the engine caches the result per value
and chain, so rules sharing a chain share the work. Names follow ModSecurity's where one exists
(`urlDecodeUni` -> `url_decode`, `htmlEntityDecode` -> `html_entity_decode`, ...).
"""

from __future__ import annotations

import html
import html.entities
import re
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import unquote

from yarl._quoting import _Unquoter

_PERCENT_U: Final = re.compile(r"%u([0-9a-fA-F]{4})")
_WHITESPACE: Final = re.compile(r"\s+")
_SQL_COMMENT: Final = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_ESCAPES: Final = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\})")
_LEGACY_ENTITIES: Final = sorted(
    (name for name in html.entities.html5 if not name.endswith(";")), key=len, reverse=True
)
ENTITY_TRIGGER: Final = r"&(?:#|[^\t\n\f <&#;]{1,32};|" + "|".join(_LEGACY_ENTITIES) + ")"
"""What `html.unescape` changes: `&#`, `&name;`, or a legacy entity written without its `;`
(`&para` in `&param=1` becomes `¶m=1`, as browsers read it). Most `&`s, the ones between query
arguments, are none of these, and `html.unescape` is slow on them."""
_NO_ENTITY_AFTER: Final = "\t\n\f <&;"
"""After an `&`, a character (or the end) that no match of ENTITY_TRIGGER can start with: `#`
is none of them, and every entity name starts with a letter."""
_NAMED_ENTITY: Final = re.compile(r"&[^\t\n\f <&#;]{1,32};")
"""ENTITY_TRIGGER's `&name;` branch alone."""
_LEGACY_BY_FIRST: Final = {
    first: tuple(name for name in _LEGACY_ENTITIES if name[0] == first)
    for first in {name[0] for name in _LEGACY_ENTITIES}
}
"""The legacy entity names (longest first) by their first letter, for `startswith`."""


def may_hold_entity(value: str) -> bool:
    """Whether ENTITY_TRIGGER matches in `value` (so `html.unescape` may change it). Only an
    `&` that could start an entity is looked at (most `&`s in free text, `fish & chips`,
    cannot), and there each branch of the pattern is answered in C: `#`, a legacy name by a
    `startswith` of the names with that first letter, `&name;` by the pattern only when a `;`
    is within its reach. A match of the whole pattern at an `&` tried its ~100 legacy names
    one by one (~3,500 instructions at each `&q=`, `&page=`); tests compare it with the
    search."""
    amp = value.find("&")
    while amp >= 0:
        after = value[amp + 1 : amp + 2]
        if after and after not in _NO_ENTITY_AFTER:
            if after == "#":
                return True
            legacy = _LEGACY_BY_FIRST.get(after)
            if legacy is not None and value.startswith(legacy, amp + 1):
                return True
            semicolon = value.find(";", amp + 2, amp + 34)  # (the one `&name;` could end at)
            if semicolon >= 0 and _NAMED_ENTITY.match(value, amp) is not None:
                return True
        amp = value.find("&", amp + 1)
    return False


MAX_DECODE_ROUNDS: Final = 4
"""`url_decode_repeat` stops after this many rounds (a value encoded five times stays partly
encoded, which is itself suspicious enough for the protocol rules)."""


_FAST_UNQUOTE: Final = _Unquoter()
_PERCENT_HEX: Final = re.compile(r"%[0-9A-Fa-f]{2}")


def _exact_unquoter() -> Callable[[str], str] | None:
    """yarl's C unquoter set to decode exactly as `parse_qsl` does (`+` as a space, invalid
    UTF-8 as U+FFFD, one per maximal invalid sequence, as Python's decoder writes them), or
    None when the installed yarl has no `replace_invalid` (older releases keep such escapes
    as they are)."""
    exact: dict[str, Any] = {"replace_invalid": True}  # (a keyword older releases lack)
    try:
        unquoter: Callable[[str], str] = _Unquoter(plus=True, **exact)
    except TypeError:
        return None
    return unquoter


_EXACT_UNQUOTE: Final = _exact_unquoter()


_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def first_escape(text: str, unicode: bool) -> int:
    """Where the first `%XX` (two hex digits) starts in `text`, or -1 when it holds none;
    with `unicode`, a `%uXXXX` or `%UXXXX` counts too (what `_URL_ESCAPE` matches; tests
    compare the two). It looks only at each `%` (found by `find`, a `memchr`): free text
    holds the odd `%` that is no escape (`100% sure`), and this answers for it without
    a regex search or a decoder's pass over the whole value."""
    at = text.find("%")
    while at >= 0:
        head = text[at + 1 : at + 3]
        if len(head) == 2:
            first = head[0]
            if first in _HEX_DIGITS and head[1] in _HEX_DIGITS:
                return at
            if unicode and (first == "u" or first == "U"):
                digits = text[at + 2 : at + 6]
                if len(digits) == 4 and all(d in _HEX_DIGITS for d in digits):
                    return at
        at = text.find("%", at + 1)
    return -1


def unquote_plus(text: str) -> str:
    """`unquote(text.replace("+", " "), errors="replace")`, as `parse_qsl` decodes, several
    times faster: one call of yarl's C unquoter when it can decode exactly so (a 64 KiB form
    spent a fifth of its WAF time here before), else `unquote_plus_checked` (tests compare
    both with the standard library on many inputs). A text whose `%`s start no escape
    needs no decoder: its `+`s become spaces, and that is all."""
    if "%" not in text or first_escape(text, False) < 0:
        return text.replace("+", " ") if "+" in text else text  # (most values: no call)
    exact = _EXACT_UNQUOTE
    if exact is not None:
        return exact(text)
    return unquote_plus_checked(text)


def unquote_plus_checked(text: str) -> str:
    """`unquote_plus` for a yarl without `replace_invalid`: its C unquoter does the work (it
    may keep `%25` encoded, so the text is split there), and wherever it would still differ
    (it keeps invalid UTF-8 encoded) a `%XX` is left in its output, so those rare values go
    through the standard library instead."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text or _PERCENT_HEX.search(text) is None:
        return text  # no escape to decode (a `%` followed by anything else stays)
    if "%25" in text:
        fast = "%".join([_FAST_UNQUOTE(part) for part in text.split("%25")])
    else:
        fast = _FAST_UNQUOTE(text)
    if "%" in fast and _PERCENT_HEX.search(fast) is not None:
        return unquote(text, errors="replace")
    return fast


def url_decode(value: str) -> str:
    """Percent-decoding once, `+` as space, and IIS-style `%uXXXX` (ModSecurity urlDecodeUni)."""
    if "%" not in value or first_escape(value, True) < 0:
        # No `%XX` nor `%uXXXX`: only its `+`s change (free text's `100%`, `50%+`).
        return value.replace("+", " ") if "+" in value else value
    if "%u" in value:  # (`_PERCENT_U` decodes a lowercase `%u` only)
        value = _PERCENT_U.sub(_code_point, value)
    # Invalid UTF-8 becomes U+FFFD: both engines need valid text, and RE2 matches UTF-8.
    return unquote_plus(value)


def _code_point(m: re.Match[str]) -> str:
    """`%uXXXX` as its character; a lone surrogate (`%uD800`) as U+FFFD, as `escape_decode`
    does: no engine takes it, and libinjection's UTF-8 encoding of it would raise."""
    code = int(m.group(1), 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def url_decode_repeat(value: str) -> str:
    """`url_decode` until the value stops changing: defeats double and triple encoding."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = url_decode(value)
        if decoded == value:
            break
        value = decoded
        if not may_url_decode(value):
            break  # the next round would leave it as it is
    return value


_URL_ESCAPE: Final = re.compile(r"%(?:[0-9a-fA-F]{2}|[uU][0-9a-fA-F]{4})")


def may_url_decode(value: str) -> bool:
    """Whether `url_decode` can change `value`: it holds a `+`, a `%XX` or a `%uXXXX` (a `%`
    followed by anything else is left as it is; tests check this on many inputs)."""
    return "+" in value or ("%" in value and first_escape(value, True) >= 0)


def lowercase(value: str) -> str:
    return value.lower()


def html_entity_decode(value: str) -> str:
    """`&lt;`, `&#60;`, `&#x3c;` and friends, also without the trailing `;`."""
    return html.unescape(value) if may_hold_entity(value) else value


def compress_whitespace(value: str) -> str:
    """Every run of whitespace (tabs, newlines, vertical tab...) becomes one space."""
    return _WHITESPACE.sub(" ", value)


def remove_nulls(value: str) -> str:
    """(Tested first with `in`: a `replace` that deletes counts its character one by one,
    where `in` finds it with `memchr`.)"""
    return value.replace("\x00", "") if "\x00" in value else value


def replace_comments(value: str) -> str:
    """C-style comments become one space: `UN/**/ION` -> `UN ION` (ModSecurity replaceComments)."""
    return _SQL_COMMENT.sub(" ", value) if "/*" in value else value


def escape_decode(value: str) -> str:
    """JavaScript/CSS escapes `\\x3c`, `\\u003c`, `\\u{3c}` become the characters they stand for."""
    if "\\" not in value:
        return value

    def one(m: re.Match[str]) -> str:
        code = int(next(g for g in m.groups() if g is not None), 16)
        if 0xD800 <= code <= 0xDFFF:
            return "\ufffd"  # a lone surrogate is not text any engine can match
        return chr(code) if code < 0x110000 else m.group(0)

    return _ESCAPES.sub(one, value)


def normalize_slashes(value: str) -> str:
    """Backslashes become slashes, so `..\\..\\` reads as `../../` (Windows path evasion)."""
    return value.replace("\\", "/")


def trim(value: str) -> str:
    return value.strip()


TRANSFORMS: Final[dict[str, Callable[[str], str]]] = {
    "url_decode": url_decode,
    "url_decode_repeat": url_decode_repeat,
    "lowercase": lowercase,
    "html_entity_decode": html_entity_decode,
    "compress_whitespace": compress_whitespace,
    "remove_nulls": remove_nulls,
    "replace_comments": replace_comments,
    "escape_decode": escape_decode,
    "normalize_slashes": normalize_slashes,
    "trim": trim,
}
"""Name (as written in rule files) -> function."""


TRIGGERS: Final[dict[str, str]] = {
    "url_decode": r"[%+]",
    "url_decode_repeat": r"[%+]",
    "lowercase": r"[A-Z\u00c0-\uffff]",
    "html_entity_decode": ENTITY_TRIGGER,
    "compress_whitespace": r"\s\s|[\t\n\r\f\v]",
    "remove_nulls": r"\x00",
    "replace_comments": r"/\*",
    "escape_decode": r"\\",
    "normalize_slashes": r"\\",
    "trim": r"^\s|\s$",
}
"""Per transform, what a value must contain for the transform to change it. A value with none
of a chain's triggers comes out of the chain unchanged, so the engine skips the chain (and can
scan that value once for rules with different chains): most real values are such values."""


TRIGGER_TEXTS: Final[dict[str, tuple[str, ...] | None]] = {
    "url_decode": ("%", "+"),
    "url_decode_repeat": ("%", "+"),
    "lowercase": None,
    "html_entity_decode": ("&",),
    "compress_whitespace": None,
    "remove_nulls": ("\x00",),
    "replace_comments": ("/*",),
    "escape_decode": ("\\",),
    "normalize_slashes": ("\\",),
    "trim": None,
}
"""Per transform, text a value must contain before its trigger can match (None: no such
text). `in` finds it far faster than a regex search, so most values skip the regex."""


def trigger_needles(names: Sequence[str]) -> tuple[str, ...] | None:
    """Texts one of which a value needs before any transform in `names` can change it
    (None when some transform has no such text)."""
    texts: set[str] = set()
    for n in names:
        needed = TRIGGER_TEXTS[n]
        if needed is None:
            return None
        texts.update(needed)
    return tuple(sorted(texts))


def holds(value: str, needle: str) -> bool:
    """`needle in value`. A needle of several characters (`/*`) is first looked for by its
    last one: `in` finds one character with `memchr`, several times faster than its search
    for two (~1,500 instructions in a 730-character value), and most values lack a `*`."""
    if len(needle) > 1 and needle[-1] not in value:
        return False
    return needle in value


def may_change(value: str, needles: tuple[str, ...] | None) -> bool:
    """Whether `value` holds one of `needles` (None: no needles known, so it may change).
    A plain loop of `holds`: C-speed scans, no generator."""
    if needles is None:
        return True
    for needle in needles:
        if holds(value, needle):
            return True
    return False


EXACT_TRIGGERS: Final = frozenset(
    {
        "url_decode",
        "url_decode_repeat",
        "remove_nulls",
        "replace_comments",
        "escape_decode",
        "normalize_slashes",
    }
)
"""Transforms whose trigger is exactly "holds one of its TRIGGER_TEXTS": `in` answers for
them, and no regex has to run over the value (a long one costs microseconds per search)."""


def chain_trigger(names: Sequence[str]) -> Callable[[str], object] | None:
    """Whether some transform in `names` may change a value: a function returning a non-None
    object when one of their triggers is in the value, else None; None: no chain."""
    if not names:
        return None
    exact = tuple(sorted({t for n in names if n in EXACT_TRIGGERS for t in TRIGGER_TEXTS[n] or ()}))
    others = sorted({n for n in names if n not in EXACT_TRIGGERS})
    if not others:

        def contains(value: str) -> object:
            for needle in exact:
                if holds(value, needle):
                    return needle
            return None

        return contains
    if others == ["html_entity_decode"]:  # (the usual chains: no regex search for most `&`s)

        def entity(value: str) -> object:
            for needle in exact:
                if holds(value, needle):
                    return needle
            return "&" if may_hold_entity(value) else None

        return entity
    search = re.compile("|".join(sorted({TRIGGERS[n] for n in others}))).search
    needles = trigger_needles(others)

    def trigger(value: str) -> object:
        for needle in exact:
            if holds(value, needle):
                return needle
        if needles is None:
            return search(value)
        for needle in needles:
            if needle in value:
                return search(value)
        return None

    return trigger


def _step_trigger(name: str) -> Callable[[str], object]:
    trigger = chain_trigger((name,))
    assert trigger is not None
    return trigger


_STEP_TRIGGER: Final = {name: _step_trigger(name) for name in TRIGGERS}
"""Per transform, its own `chain_trigger`."""
SELF_GUARDED: Final = frozenset(
    {
        "url_decode",
        "url_decode_repeat",
        "html_entity_decode",
        "escape_decode",
        "replace_comments",
        "remove_nulls",
        "normalize_slashes",
        "trim",
    }
)
"""Transforms that test for their own trigger first and return the value as it is without it
(a `str.replace` or `strip` that changes nothing returns its input): a step runs them
directly, instead of testing the trigger and then having them test it again."""


def _step(name: str) -> Callable[[str], str]:
    transform = TRANSFORMS[name]
    if name in SELF_GUARDED:
        return transform
    trigger = _STEP_TRIGGER[name]

    def guarded(value: str) -> str:
        return value if trigger(value) is None else transform(value)

    return guarded


_STEPS: Final = {name: _step(name) for name in TRANSFORMS}
"""Per transform, one step of a chain: the transform, run only when its trigger is in the value
(the same text out in every case: without its trigger a transform leaves a value as it is)."""


def apply_cached(value: str, names: Sequence[str], memo: dict[tuple[str, str], str]) -> str:
    """`apply_transforms`, skipping steps that cannot change the value and remembering each
    step's result in `memo` (one per request), so chains that share steps share the work."""
    for name in names:
        key = (name, value)
        out = memo.get(key)
        if out is None:
            out = memo[key] = _STEPS[name](value)
        value = out
    return value


def apply_transforms(value: str, names: Sequence[str]) -> str:
    """Run `names` in order; raises KeyError for an unknown name (rules are validated on load)."""
    for name in names:
        value = TRANSFORMS[name](value)
    return value


class ChainSet:
    """Several chains applied to one value together, for the forms all of them make of it.

        ChainSet([("url_decode", "lowercase"), ("url_decode", "trim")]).forms("A%20 ", {})
        # {"a  ", "A"}

    The chains are a tree of shared first steps, each step computed once; a branch stops as
    soon as the value holds no trigger text of any step left in it (every chain below then
    leaves the value as it is), which is where most values stop.
    """

    def __init__(self, chains: Sequence[Sequence[str]]) -> None:
        self._root = _Node()
        for chain in chains:
            node = self._root
            for name in chain:
                node = node.children.setdefault(name, _Node())
            node.ends = True
        self._root.seal()

    def forms(self, value: str, step_memo: dict[tuple[str, str], str]) -> set[str]:
        out: set[str] = set()
        self._root.walk(value, step_memo, out)
        return out


class _Node:
    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.ends = False
        self.needles: tuple[str, ...] | None = ()
        """Trigger texts of every step below (None: some step has none, always descend)."""

    def seal(self) -> None:
        needles: set[str] = set()
        unbounded = False
        for name, child in self.children.items():
            child.seal()
            own = TRIGGER_TEXTS[name]
            if own is None or child.needles is None:
                unbounded = True
            else:
                needles.update(own, child.needles)
        self.needles = None if unbounded else tuple(sorted(needles))

    def walk(self, value: str, step_memo: dict[tuple[str, str], str], out: set[str]) -> None:
        if self.ends:
            out.add(value)
        if not may_change(value, self.needles):
            if self.children:
                out.add(value)  # every chain below leaves it unchanged
            return
        for name, child in self.children.items():
            key = (name, value)
            stepped = step_memo.get(key)
            if stepped is None:
                stepped = step_memo[key] = _STEPS[name](value)
            child.walk(stepped, step_memo, out)
