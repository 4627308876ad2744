"""Byte ranges (RFC 9110 §14) served from a stored full response: one range -> 206.

    byte_range("bytes=0-99", 1000)      # Range(0, 99)
    byte_range("bytes=-10", 1000)       # Range(990, 999)
    byte_range("bytes=5000-", 1000)     # UNSATISFIABLE -> 416
    byte_range("bytes=0-1,5-9", 1000)   # None -> serve the whole 200 (multipart not supported)

`if_range_allows` applies If-Range (§13.1.5): a range only when the validator still matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edgelab.policy.cache.freshness import http_date


@dataclass(frozen=True, slots=True)
class Range:
    first: int
    last: int
    """Inclusive, as in Content-Range."""

    def content_range(self, length: int) -> str:
        return f"bytes {self.first}-{self.last}/{length}"


UNSATISFIABLE = Range(-1, -1)


def byte_range(header: str, length: int) -> Range | None:
    """The one satisfiable range `header` asks for; UNSATISFIABLE (416); or None = ignore Range
    and send everything (several ranges, another unit, or syntax we do not understand)."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    first_s, last_s = first_s.strip(), last_s.strip()
    if not dash or (first_s and not first_s.isdigit()) or (last_s and not last_s.isdigit()):
        return None
    if not first_s:
        if not last_s:
            return None
        suffix = int(last_s)
        if suffix == 0 or length == 0:
            return UNSATISFIABLE
        return Range(max(0, length - suffix), length - 1)
    first = int(first_s)
    last = int(last_s) if last_s else length - 1
    if last_s and last < first:
        return None  # invalid: a server ignores it (§14.1.1)
    if first >= length:
        return UNSATISFIABLE
    return Range(first, min(last, length - 1))


def if_range_allows(if_range: str | None, stored: Mapping[str, str]) -> bool:
    """§13.1.5: a strong ETag equal to the stored one, or a date equal to its Last-Modified."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"'):
        return value == stored.get("ETag")
    if value.startswith("W/"):
        return False
    date = http_date(value)
    last_modified = http_date(stored.get("Last-Modified"))
    return date is not None and date == last_modified
