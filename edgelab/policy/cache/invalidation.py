"""Invalidation by unsafe requests (RFC 9111 §4.4).

    invalidated_urls("POST", 201, "http://www.example/cart", {"Location": "/cart/7"})
    # ["http://www.example/cart", "http://www.example/cart/7"]

A non-error response (2xx, 3xx) to a method that is not known to be safe invalidates the target
URI, and the `Location` / `Content-Location` URIs when they have the same origin (a cache must
not let one site invalidate another's objects).
"""

from __future__ import annotations

from collections.abc import Mapping

from yarl import URL

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def invalidated_urls(method: str, status: int, url: str, headers: Mapping[str, str]) -> list[str]:
    """Absolute URLs whose stored responses must go (empty for safe methods and errors)."""
    if method in SAFE_METHODS or not 200 <= status < 400:
        return []
    base = URL(url, encoded=True)
    out = [url]
    for name in ("Location", "Content-Location"):
        value = headers.get(name)
        if not value:
            continue
        try:
            target = base.join(URL(value, encoded=True))
        except ValueError:
            continue
        if target.scheme == base.scheme and target.host == base.host and target.port == base.port:
            s = str(target)
            if s not in out:
                out.append(s)
    return out


def surrogate_keys(cache_tag: list[str], surrogate_key: list[str]) -> frozenset[str]:
    """Purge tags of a response: `Cache-Tag` is comma-separated (Cloudflare), `Surrogate-Key`
    space-separated (Fastly); both are accepted and merged."""
    tags: set[str] = set()
    for line in cache_tag:
        tags.update(t.strip() for t in line.split(",") if t.strip())
    for line in surrogate_key:
        tags.update(line.split())
    return frozenset(tags)
