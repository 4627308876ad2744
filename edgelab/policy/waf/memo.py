"""Results kept across requests for short values: the same `Accept`, cookie, user agent or
referer arrives on request after request, and what a transformation chain or libinjection makes
of it never changes (pure functions of the value).

    memo = ChainMemo()
    memo.apply("a+b%21", ("url_decode",), {})     # "a b!" (computed, then remembered)

The engine also keeps libinjection's answers per raw value this way (`engine._remembered`).

Bounded twice: only values up to MEMO_VALUE_MAX characters are kept, and a memo that reaches
MEMO_ENTRIES_MAX entries starts over, so a flood of unique values costs what it would have cost
without a memo (plus a dict lookup) and never grows memory.
"""

from __future__ import annotations

from typing import Final, TypeVar

from edgelab.policy.waf.transforms import apply_cached

_K = TypeVar("_K")
_V = TypeVar("_V")

MEMO_VALUE_MAX: Final = 256
"""Values up to this length are remembered."""
MEMO_ENTRIES_MAX: Final = 8192
"""Entries per memo at most; when full it starts over."""


class BoundedMemo(dict[_K, _V]):
    """A dict read with `get` as any dict (the hot path), written with `keep`, which starts
    over when MEMO_ENTRIES_MAX entries are reached. Callers keep only short values'
    results (`is_short`)."""

    def keep(self, key: _K, value: _V) -> _V:
        if len(self) >= MEMO_ENTRIES_MAX:
            self.clear()
        self[key] = value
        return value


def is_short(value: str) -> bool:
    """Whether results for `value` are worth keeping across requests."""
    return len(value) <= MEMO_VALUE_MAX


class ChainMemo:
    """Chain results, shared by every rule (and request) of one engine."""

    def __init__(self) -> None:
        self._results: BoundedMemo[tuple[tuple[str, ...], str], str] = BoundedMemo()

    def apply(
        self, value: str, chain: tuple[str, ...], step_memo: dict[tuple[str, str], str]
    ) -> str:
        """`apply_cached(value, chain, step_memo)`, remembered when `value` is short."""
        if not is_short(value):
            return apply_cached(value, chain, step_memo)
        key = (chain, value)
        out = self._results.get(key)
        if out is None:
            out = self._results.keep(key, apply_cached(value, chain, step_memo))
        return out

    def clear(self) -> None:
        self._results.clear()
