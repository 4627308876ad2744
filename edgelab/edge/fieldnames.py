"""Field names for the edge's hot path, as multidict `istr`s (case-insensitive strings).

    from edgelab.edge.fieldnames import HOST, field_name
    headers = CIMultiDict([(field_name(raw_name), value) ...])
    host = headers.get(HOST, "")

A `CIMultiDict` folds the case of a plain `str` key on every lookup and insertion (~100 ns
each, measured); an `istr` carries its folded form, so a lookup with one of these constants
costs a hash probe. A cache hit makes about twenty such lookups (issue 3). Header names
parsed from a request are interned the same way (`field_name`), so inserting them costs no
case folding either. An `istr` is a `str`: it prints, compares and serialises as the name.
"""

from __future__ import annotations

from typing import Final

from multidict import istr

HOST: Final = istr("Host")
CONNECTION: Final = istr("Connection")
CONTENT_LENGTH: Final = istr("Content-Length")
TRANSFER_ENCODING: Final = istr("Transfer-Encoding")
KEEP_ALIVE: Final = istr("Keep-Alive")
EXPECT: Final = istr("Expect")
CACHE_CONTROL: Final = istr("Cache-Control")
PRAGMA: Final = istr("Pragma")
IF_NONE_MATCH: Final = istr("If-None-Match")
IF_MODIFIED_SINCE: Final = istr("If-Modified-Since")
RANGE: Final = istr("Range")
VIA: Final = istr("Via")
DATE: Final = istr("Date")
CONTENT_TYPE: Final = istr("Content-Type")

_INTERNED_MAX: Final = 512
"""Distinct raw names kept (clients choose names: the table must not grow without bound)."""

_interned: dict[bytes, str] = {}


def field_name(raw: bytes) -> str:
    """`raw` (a field name as received) as an `istr`, the same object each time for the
    names seen first; bytes that are not UTF-8 survive as surrogates (`surrogateescape`)."""
    name = _interned.get(raw)
    if name is None:
        name = istr(raw.decode("utf-8", "surrogateescape"))
        if len(_interned) < _INTERNED_MAX:
            _interned[raw] = name
    return name
