"""Cache-Control directives (RFC 9111 §5.2) and targeted cache-control fields (RFC 9213).

    cc = parse_cache_control(["public, max-age=60", "stale-if-error=300"])
    cc.max_age_s, cc.public, cc.stale_if_error_s        # 60, True, 300
    cc = response_directives(headers, ("Edgelab-CDN-Cache-Control", "CDN-Cache-Control"))
    cc.targeted                                         # True when a targeted field decided

Parsing is lenient as §5.2 asks: unknown directives are ignored, a directive repeated keeps its
first value, a malformed delta-seconds makes the directive count as present with value 0 (the
safe reading for max-age, §4.2.1). Values may be quoted (`max-age="60"`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

CDN_CACHE_CONTROL = "CDN-Cache-Control"
"""RFC 9213's field for every CDN on the path."""


class HeaderLookup(Protocol):
    def getall(self, key: str, default: list[str]) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Directives:
    """The directives of one message; `None` = absent, a number = present with that value."""

    max_age_s: int | None = None
    s_maxage_s: int | None = None
    no_store: bool = False
    no_cache: bool = False
    """Unqualified `no-cache` (a response with it must be revalidated before every use)."""
    no_cache_fields: tuple[str, ...] = ()
    """`no-cache="Set-Cookie"`: these fields are not sent from cache (§5.2.2.4)."""
    private: bool = False
    """Unqualified `private`: a shared cache must not store it (§5.2.2.7)."""
    private_fields: tuple[str, ...] = ()
    """`private="X-User"`: a shared cache stores the response without these fields."""
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    must_understand: bool = False
    immutable: bool = False
    only_if_cached: bool = False
    max_stale_s: float | None = None
    """Request: accept stale this long; `max-stale` without a value = any staleness (inf)."""
    min_fresh_s: int | None = None
    stale_while_revalidate_s: int | None = None
    stale_if_error_s: int | None = None
    targeted: bool = False
    """True when this came from a targeted field (RFC 9213) instead of Cache-Control."""


NONE = Directives()


def _seconds(value: str | None) -> int:
    """delta-seconds (§1.2.2); malformed or missing -> 0, huge -> 2**31."""
    if value is None:
        return 0
    value = value.strip().strip('"')
    if not value.isdigit():
        return 0
    return min(int(value), 2**31)


def _fields(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(f.strip().lower() for f in value.strip().strip('"').split(",") if f.strip())


def _split(values: Iterable[str]) -> Iterable[tuple[str, str | None]]:
    for line in values:
        # Commas inside a quoted field list (`no-cache="a, b"`) do not separate directives.
        parts: list[str] = []
        buf: list[str] = []
        quoted = False
        for ch in line:
            if ch == '"':
                quoted = not quoted
            if ch == "," and not quoted:
                parts.append("".join(buf))
                buf = []
            else:
                buf.append(ch)
        parts.append("".join(buf))
        for part in parts:
            name, eq, value = part.partition("=")
            name = name.strip().lower()
            if name:
                yield name, (value if eq else None)


def parse_cache_control(values: Iterable[str], *, targeted: bool = False) -> Directives:
    """Directives from the field lines of one Cache-Control (or targeted) field."""
    seen: dict[str, str | None] = {}
    for name, value in _split(values):
        seen.setdefault(name, value)
    if not seen:
        return Directives(targeted=targeted)
    get = seen.get
    max_stale: float | None = None
    if "max-stale" in seen:
        raw = get("max-stale")
        max_stale = float("inf") if raw is None else float(_seconds(raw))
    nc, pv = get("no-cache"), get("private")

    def opt(name: str) -> int | None:
        return _seconds(get(name)) if name in seen else None

    return Directives(
        max_age_s=opt("max-age"),
        s_maxage_s=opt("s-maxage"),
        no_store="no-store" in seen,
        no_cache="no-cache" in seen and not _fields(nc),
        no_cache_fields=_fields(nc),
        private="private" in seen and not _fields(pv),
        private_fields=_fields(pv),
        public="public" in seen,
        must_revalidate="must-revalidate" in seen,
        proxy_revalidate="proxy-revalidate" in seen,
        must_understand="must-understand" in seen,
        immutable="immutable" in seen,
        only_if_cached="only-if-cached" in seen,
        max_stale_s=max_stale,
        min_fresh_s=opt("min-fresh"),
        stale_while_revalidate_s=opt("stale-while-revalidate"),
        stale_if_error_s=opt("stale-if-error"),
        targeted=targeted,
    )


def response_directives(headers: HeaderLookup, targeted_fields: Iterable[str]) -> Directives:
    """The directives this cache obeys for a response (RFC 9213 §2.2).

    The first targeted field (in `targeted_fields` order) with a non-empty value wins and
    Cache-Control is ignored; otherwise Cache-Control applies.
    """
    for name in targeted_fields:
        lines = [v for v in headers.getall(name, []) if v.strip()]
        if lines:
            return parse_cache_control(lines, targeted=True)
    return parse_cache_control(headers.getall("Cache-Control", []))


def request_directives(headers: HeaderLookup) -> Directives:
    """Request directives; `Pragma: no-cache` counts as `no-cache` without Cache-Control (§5.4)."""
    lines = headers.getall("Cache-Control", [])
    if lines:
        return parse_cache_control(lines)
    pragma = headers.getall("Pragma", [])
    if any("no-cache" in p.lower() for p in pragma):
        return Directives(no_cache=True)
    return NONE
