"""Operators: compiled once per rule into `value -> matched text | None`.

    match = compile_operator("contains", ["sqlmap", "nikto"], "re2")
    match("Mozilla/5.0 sqlmap/1.7")      # "sqlmap"
    compile_operator("detect_sqli", None, "re2")("1' or '1'='1")   # "s&sos" (libinjection)

`regex` goes through the configured engine (`re` or RE2); `detect_sqli` / `detect_xss` are
libinjection (the `libinjection-python` binding), which tokenises instead of pattern-matching, as
ModSecurity's `@detectSQLi`/`@detectXSS` do. `rate` is not here: it needs state and a clock,
which the engine keeps (`edgelab.policy.waf.engine`).
"""

from __future__ import annotations

import ctypes
import ipaddress
import re
import threading
from collections.abc import Callable
from typing import Any, Final

import libinjection

from edgelab.policy.waf.regex import RegexEngine, compile_regex
from edgelab.policy.waf.sqli_words import LIBINJECTION_VERSION, SQL_WORDS

Matcher = Callable[[str], str | None]
OPERATORS: Final = (
    "regex",
    "contains",
    "equals",
    "prefix",
    "detect_sqli",
    "detect_xss",
    "ip_match",
    "gt",
    "length_gt",
    "rate",
)
"""Operator names as written in rule files."""


def _strings(arg: object, op: str) -> list[str]:
    if isinstance(arg, str):
        return [arg]
    if isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg):
        return [a for a in arg if isinstance(a, str)]
    raise ValueError(f"{op} needs a string or a list of strings")


def _number(arg: object, op: str) -> int:
    if isinstance(arg, int) and not isinstance(arg, bool):
        return arg
    raise ValueError(f"{op} needs an integer")


def compile_operator(op: str, arg: object, engine: RegexEngine) -> Matcher:
    """A matcher for `op` with `arg`; raises ValueError naming what is wrong with `arg`.

    String comparisons are case-insensitive (rules usually lowercase first anyway).
    """
    if op == "regex":
        if not isinstance(arg, str):
            raise ValueError("regex needs a pattern string")
        return compile_regex(arg, engine).search
    if op in ("contains", "equals", "prefix"):
        needles = [s.lower() for s in _strings(arg, op)]
        if op == "contains":

            def contains(value: str) -> str | None:
                v = value.lower()
                for n in needles:
                    if n in v:
                        return n
                return None

            return contains
        if op == "equals":
            wanted = equals_set(arg)
            return lambda value: value if value.lower() in wanted else None
        starts = tuple(needles)
        return lambda value: value if value.lower().startswith(starts) else None
    if op == "detect_sqli":
        if arg is not None:
            raise ValueError("detect_sqli takes no argument")
        return detect_sqli
    if op == "detect_xss":
        if arg is not None:
            raise ValueError("detect_xss takes no argument")
        return detect_xss
    if op == "ip_match":
        try:
            networks = [ipaddress.ip_network(n, strict=False) for n in _strings(arg, op)]
        except ValueError as e:
            raise ValueError(f"ip_match: {e}") from e
        return lambda value: value if _in_networks(value, networks) else None
    if op == "gt":
        limit = _number(arg, op)
        return lambda value: value if value.isdigit() and int(value) > limit else None
    if op == "length_gt":
        limit = _number(arg, op)
        return lambda value: value[:64] if len(value) > limit else None
    raise ValueError(f"unknown operator {op!r}")


def equals_set(arg: object) -> frozenset[str]:
    """What `equals` compares a lowercased value with (the engine tests values against it
    inline, without a call per value); raises ValueError as `compile_operator`."""
    return frozenset(s.lower() for s in _strings(arg, "equals"))


def _binding_sqli(value: str) -> str | None:
    result = libinjection.is_sql_injection(value)
    return str(result["fingerprint"]) if result["is_sqli"] else None


def _libinjection_function(name: str) -> Any:
    """C function `name` of the shared object the binding ships (it exports the library's
    symbols), or None when the binding is built otherwise."""
    try:
        return getattr(ctypes.PyDLL(libinjection.__file__), name)
    except (OSError, AttributeError):
        return None


def _direct_sqli() -> Callable[[str], str | None] | None:
    """libinjection's own one-call API, `libinjection_sqli(s, len, fingerprint)`, from the
    shared object the binding ships (it exports the C library's symbols), or None if absent.

    Same library, same answer (a test compares them), at half the cost: the binding builds a
    dict of eight token dicts on every call, about 4 us of a request's WAF time per new
    value. Each thread writes its own fingerprint buffer: the event loop and the WAF's body
    worker both call it, and interpreted (not compiled) code may switch threads between the
    call and the read of the buffer."""
    fn = _libinjection_function("libinjection_sqli")
    if fn is None:
        return None
    fn.restype = ctypes.c_int  # no argtypes: ctypes' conversion of them doubled a call's cost
    buffers: dict[int, Any] = {}  # thread id -> its buffer (a few threads: loop, worker)
    size_t = ctypes.c_size_t

    def sqli(value: str) -> str | None:
        raw = value.encode("utf-8")  # strict, as the binding's (values are surrogate-free)
        thread = threading.get_ident()
        fingerprint = buffers.get(thread)
        if fingerprint is None:  # libinjection's own size: 5 tokens and NUL
            fingerprint = buffers.setdefault(thread, ctypes.create_string_buffer(8))
        found = fn(raw, size_t(len(raw)), fingerprint)  # (char *, size_t, char *)
        return fingerprint.value.decode("ascii") if found else None

    return sqli


_sqli: Final = _direct_sqli() or _binding_sqli


def detect_sqli(value: str) -> str | None:
    """libinjection's SQL fingerprint when the value tokenises as SQL injection."""
    if len(value) < 2 or not sqli_possible(value):
        return None
    return _sqli(value)


def _library_version() -> str | None:
    fn = _libinjection_function("libinjection_version")
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    version = fn()
    return version.decode("ascii") if isinstance(version, bytes) else None


_SQL_WORDS_HOLD: Final = _library_version() == LIBINJECTION_VERSION
"""Whether `SQL_WORDS` is the keyword table of the libinjection that answers `detect_sqli`."""
_SQLI_WORDS_MAX: Final = 256
"""Longer values go to libinjection unchecked (free text has punctuation anyway)."""


def sqli_possible(value: str) -> bool:
    """False only for a value libinjection's SQLi check cannot flag: plain words and numbers.

    A value of ASCII letters, digits and spaces only, each word either all digits or a letter
    followed by letters and digits, none of them a word of libinjection's keyword table
    (`SQL_WORDS`, which holds the first word of each keyword of several words too), tokenises
    as barewords (`n`) and numbers (`1`) alone: no quote or comment makes it parse again in
    another mode, no two words merge into a keyword, and folding such tokens keeps them such.
    No fingerprint of up to five `n`s and `1`s is in its blacklist (a test asks the library
    of each, and compares this with libinjection on many generated values). A word glued to
    a number (`1union`, `0x1f`, `1e5`) and a word of 32 characters or more (the tokenizer
    truncates them) go to libinjection. `search=burr grinder 4`, a session id of letters and
    digits: one libinjection call (~9,000 instructions) each saved on a request."""
    if not _SQL_WORDS_HOLD or len(value) > _SQLI_WORDS_MAX or not value.isascii():
        return True
    for word in value.split(" "):
        if not word or word.isdigit():
            continue
        if len(word) >= 32 or not word[0].isalpha() or not word.isalnum():
            return True
        if word.upper() in SQL_WORDS:
            return True
    return False


def detect_xss(value: str) -> str | None:
    """The value itself (truncated by the caller) when libinjection parses it as XSS."""
    if not xss_possible(value):
        return None
    return value if _xss(value) else None


def _binding_xss(value: str) -> bool:
    return bool(libinjection.is_xss(value)["is_xss"])


def _direct_xss() -> Callable[[str], bool] | None:
    """libinjection's `libinjection_xss(s, len)` from the binding's shared object, as
    `_direct_sqli` (the binding builds a dict per call), or None if absent."""
    fn = _libinjection_function("libinjection_xss")
    if fn is None:
        return None
    fn.restype = ctypes.c_int  # no argtypes, as `_direct_sqli`
    size_t = ctypes.c_size_t

    def xss(value: str) -> bool:
        raw = value.encode("utf-8")
        return bool(fn(raw, size_t(len(raw))))  # (char *, size_t)

    return xss


_xss: Final = _direct_xss() or _binding_xss

_HTML_WHITE: Final = " \t\n\x0b\x0c\r\x00"
"""What libinjection's HTML5 tokenizer skips as white space (NUL too)."""
_HTML_NAME_END: Final = _HTML_WHITE + "/=>"
"""What ends an attribute name in that tokenizer."""
XSS_TAG: Final = re.compile(
    r"<(?:[!?%\x00]|/(?![A-Za-z>])|/?(?i:applet|base|comment|embed|frame|handler|iframe|import"
    r"|isindex|link|listener|meta|noscript|object|script|style|svg|vmlframe|xml|xsl|xss))",
    re.ASCII,
)
"""A `<` libinjection may flag: a comment, doctype or bogus comment (`<!`, `<?`, `<%`, `</`
not followed by a letter), or the start of a blacklisted tag name (as a prefix). The spec of
`_xss_tag_at`, which answers the same without a regex call (tests compare the two)."""
_XSS_TAG_NAMES: Final = (
    "applet base comment embed frame handler iframe import isindex link listener meta"
    " noscript object script style svg vmlframe xml xsl xss"
).split()
_XSS_TAG_NAME_MAX: Final = max(len(name) for name in _XSS_TAG_NAMES)
_XSS_TAGS_BY_FIRST: Final = {
    first: tuple(name for name in _XSS_TAG_NAMES if name[0] == first.lower())
    for first in {name[0] for name in _XSS_TAG_NAMES} | {name[0].upper() for name in _XSS_TAG_NAMES}
}
"""The tag names by their first letter, in either case."""
_ASCII_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _xss_tag_at(value: str, lt: int) -> bool:
    """Whether `XSS_TAG` matches at `value[lt]`, a `<`. A regex call cost ~4,000 instructions
    a `<` (its case-insensitive alternation tries every tag name), and free text has a few in
    each field (`<b>`, `<3`): a dict lookup by the next letter rules most out. Names compare
    lowercased only when ASCII, as the ASCII-only case-insensitive pattern does (a Unicode
    `lower` would make the Kelvin sign a `k`): the pattern answers for the rest."""
    end = len(value)
    at = lt + 1
    if at >= end:
        return False
    first = value[at]
    if first in "!?%\x00":
        return True
    if first == "/":
        at += 1
        if at >= end:
            return True
        first = value[at]
        if first != ">" and first not in _ASCII_LETTERS:
            return True
    names = _XSS_TAGS_BY_FIRST.get(first)
    if names is None:
        return False
    head = value[at : at + _XSS_TAG_NAME_MAX]
    if not head.isascii():
        return XSS_TAG.match(value, lt) is not None
    return head.lower().startswith(names)


_XSS_ATTRS: Final = (
    "action",
    "attributename",
    "background",
    "by",
    "dataformatas",
    "datasrc",
    "dynsrc",
    "filter",
    "folder",
    "formaction",
    "from",
    "handler",
    "href",
    "lowsrc",
    "poster",
    "src",
    "style",
    "to",
    "values",
)
"""libinjection's blacklisted attribute names, matched whole (`xlink:href` is an `xlink*`)."""
_XSS_ATTR_PREFIXES: Final = ("on", "xmlns", "xlink")
"""Attribute names libinjection blacklists by their start (every `on*` event handler)."""
_XSS_ATTRS_BY_LAST: Final = {
    last: tuple(a for a in _XSS_ATTRS if a[-1] == last) for last in {a[-1] for a in _XSS_ATTRS}
}
"""The blacklisted names by their last letter: one `endswith` of one or two, not of all."""
_XSS_LOWER_MAX: Final = 256
"""Values up to this length are lowercased whole by `xss_possible` (see there)."""


def xss_possible(value: str) -> bool:
    """False only for a value libinjection's XSS check cannot flag, whatever its version's
    lists of event handlers; the check costs far less than libinjection's five parses.

    libinjection flags a token of its HTML5 tokenizer, run from five starting states (text,
    and inside an unquoted, single-, double- or back-quoted attribute value): a doctype, a
    comment, a blacklisted tag name (all three need a `<` as `XSS_TAG` spells it), or an
    attribute value after a blacklisted attribute name, which needs that name, then only
    white space, then `=`. So a value with no such `<`, and with no `=` whose name before it
    (the run of characters back to white space, `/`, `=` or `>`) ends with a blacklisted
    name or holds `on`, `xmlns` or `xlink`, is not XSS to libinjection; a NUL (which its
    tag-name comparisons skip) always goes to libinjection. Tests compare this with
    libinjection on the corpus and on many generated strings."""
    if "\x00" in value:
        return True
    # Each `<` found in C and looked at where it is.
    lt = value.find("<")
    while lt >= 0:
        if _xss_tag_at(value, lt):
            return True
        lt = value.find("<", lt + 1)
    eq = value.find("=")
    if eq < 0:
        return False
    # For a short ASCII value (a query argument, a cookie), a name can only end with a
    # blacklisted name or hold a prefix if the text before it does: those tests run in C, and
    # most `=`s stop there. A long value is not lowercased whole: free text holds `on` nearly
    # everywhere, so the tests would rarely save reading the name before its few `=`s.
    low = value.lower() if len(value) <= _XSS_LOWER_MAX and value.isascii() else None
    # (a value without any of _XSS_ATTR_PREFIXES has none before any `=` either)
    prefixed = low is not None and ("on" in low or "xmlns" in low or "xlink" in low)
    while eq >= 0:
        end = eq
        while end > 0 and value[end - 1] in _HTML_WHITE:
            end -= 1
        if (
            low is not None
            and not low.endswith(_XSS_ATTRS, 0, end)
            and not (prefixed and _holds_prefix(low, end))
        ):
            eq = value.find("=", eq + 1)
            continue
        start = end
        while start > 0 and value[start - 1] not in _HTML_NAME_END:
            start -= 1
        if start < end:
            name = value[start:end].lower()
            ending = _XSS_ATTRS_BY_LAST.get(name[-1])
            if ending is not None and name.endswith(ending):
                return True
            if "on" in name or "xmlns" in name or "xlink" in name:  # _XSS_ATTR_PREFIXES
                return True
        eq = value.find("=", eq + 1)
    return False


def _holds_prefix(text: str, end: int) -> bool:
    """Whether `text[:end]` holds one of `_XSS_ATTR_PREFIXES`."""
    for prefix in _XSS_ATTR_PREFIXES:
        if text.find(prefix, 0, end) >= 0:
            return True
    return False


def _in_networks(value: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(ip in n for n in networks)
