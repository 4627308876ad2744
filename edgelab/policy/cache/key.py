"""Cache keys: the primary key from the request target (RFC 9111 §4), secondary keys from Vary (§4.1).

    key = primary_key("http", "www.example", "/app.js", "v=2", headers, KeyOptions())
    # 'http://www.example/app.js?v=2'
    names = vary_names(response_headers.getall("Vary", []))     # ("accept-encoding",) | None for *
    vary_values(names, request_headers)                          # ("gzip",)

The defaults key on scheme, host, path and query: a string built with one f-string on the hit
path. The options (ignore or sort the query, add request headers) are what CDNs let a site
configure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from edgelab.policy.cache.directives import HeaderLookup


@dataclass(frozen=True, slots=True)
class KeyOptions:
    include_host: bool = True
    ignore_query: bool = False
    sort_query: bool = False
    headers: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        """The default key: scheme://host/path?query, nothing else."""
        return self.include_host and not (self.ignore_query or self.sort_query or self.headers)


def url_of(scheme: str, host: str, target: str) -> str:
    """The request's absolute URL (the target URI of §4), host lower-cased."""
    return f"{scheme}://{host.lower()}{target}"


def primary_key(
    scheme: str, host: str, path: str, query: str, headers: HeaderLookup, options: KeyOptions
) -> str:
    """The primary cache key under `options`; equal keys are the same object (before Vary)."""
    if options.ignore_query:
        query = ""
    elif options.sort_query and query:
        query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    target = f"{path}?{query}" if query else path
    key = url_of(scheme, host if options.include_host else "*", target)
    if options.headers:
        extra = "|".join(
            f"{name.lower()}={_normalise(headers.getall(name, []))}" for name in options.headers
        )
        key = f"{key}|{extra}"
    return key


def vary_names(values: Iterable[str]) -> tuple[str, ...] | None:
    """The request fields a response varies on, lower-cased and sorted; None for `Vary: *`."""
    names: set[str] = set()
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if name == "*":
                return None
            if name:
                names.add(name)
    return tuple(sorted(names))


def _normalise(lines: list[str]) -> str:
    """§4.1: combine field lines and normalise whitespace, so semantically equal values match."""
    return ",".join(",".join(p.strip() for p in line.split(",")) for line in lines)


def vary_values(names: tuple[str, ...], headers: HeaderLookup) -> tuple[str | None, ...]:
    """The request's values for `names` (None = absent), to compare with a stored response's."""
    out: list[str | None] = []
    for name in names:
        lines = headers.getall(name, [])
        out.append(_normalise(lines) if lines else None)
    return tuple(out)
