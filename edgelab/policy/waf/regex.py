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
from typing import Literal, Protocol

import re2

RegexEngine = Literal["re", "re2"]
REGEX_ENGINES: tuple[RegexEngine, ...] = ("re", "re2")


class Pattern(Protocol):
    """A compiled pattern: the first match in `text`, or None."""

    def search(self, text: str) -> str | None: ...


class _RePattern:
    def __init__(self, pattern: str) -> None:
        self._search = re.compile(pattern, re.IGNORECASE | re.DOTALL).search

    def search(self, text: str) -> str | None:
        m = self._search(text)
        return None if m is None else m.group(0)


class _Re2Pattern:
    def __init__(self, pattern: str) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.dot_nl = True
        options.max_mem = 64 << 20
        options.log_errors = False
        options.never_capture = True
        self._search = re2.compile(pattern, options).search

    def search(self, text: str) -> str | None:
        m = self._search(text)
        return None if m is None else str(m.group(0))


def compile_regex(pattern: str, engine: RegexEngine) -> Pattern:
    """Compile case-insensitive, `.` matching newlines; raises ValueError if it does not compile."""
    try:
        if engine == "re":
            return _RePattern(pattern)
        return _Re2Pattern(pattern)
    except (re.error, re2.error) as e:
        raise ValueError(f"regex does not compile under {engine}: {e}") from e
