"""What the origin's routes answer: bodies, validators and cache headers (pure).

    page = static_asset("/static/app.js", routes, last_modified=1700000000.0)
    not_modified(page, request_headers)   # True -> answer 304

Bodies are deterministic filler of the profile's size, so a cache and a test can compare bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache

from edgelab.origin.profile import Routes


@dataclass(frozen=True)
class Content:
    """One answer: body, content type and the headers that go with it."""

    body: bytes
    content_type: str
    cache_control: str
    etag: str | None = None
    last_modified: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def filler(size: int, seed: str) -> bytes:
    """`size` bytes of printable text derived from `seed` (the same seed, the same bytes)."""
    block = hashlib.sha256(seed.encode()).hexdigest().encode() + b"\n"
    reps = size // len(block) + 1
    return (block * reps)[:size]


def strong_etag(path: str, version: str) -> str:
    return '"' + hashlib.sha1(f"{version}:{path}".encode()).hexdigest()[:20] + '"'


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def static_asset(path: str, routes: Routes, last_modified: float) -> Content:
    ctype = {
        ".js": "application/javascript",
        ".css": "text/css",
        ".png": "image/png",
        ".svg": "image/svg+xml",
    }.get(path[path.rfind(".") :] if "." in path else "", "application/octet-stream")
    return Content(
        body=filler(routes.static_bytes, routes.content_version + path),
        content_type=ctype,
        cache_control=f"public, max-age={routes.static_max_age_s}",
        etag=strong_etag(path, routes.content_version),
        last_modified=http_date(last_modified),
    )


def html_page(page_id: str, routes: Routes, last_modified: float) -> Content:
    head = (
        f"<!doctype html><html><head><title>page {page_id}</title>"
        f'<link rel="stylesheet" href="/static/site.css"><script src="/static/app.js"></script>'
        f'</head><body><img src="/static/logo.png"><pre>\n'
    ).encode()
    tail = b"\n</pre></body></html>\n"
    fill = filler(
        max(0, routes.page_bytes - len(head) - len(tail)), routes.content_version + page_id
    )
    return Content(
        body=head + fill + tail,
        content_type="text/html; charset=utf-8",
        cache_control=f"public, max-age=0, s-maxage={routes.page_s_maxage_s}",
        etag=strong_etag("/page/" + page_id, routes.content_version),
        last_modified=http_date(last_modified),
    )


def api_response(path: str, routes: Routes) -> Content:
    prefix = b'{"path": "' + path.encode("utf-8", "replace").replace(b'"', b"") + b'", "data": "'
    suffix = b'"}'
    fill = filler(max(0, routes.api_bytes - len(prefix) - len(suffix)), path)
    return Content(prefix + fill + suffix, "application/json", "private, no-store")


def search_results(query: str, routes: Routes) -> Content:
    head = b"<!doctype html><html><body><h1>results</h1><pre>\n"
    fill = filler(max(0, routes.search_bytes - len(head)), "search:" + query)
    return Content(head + fill, "text/html; charset=utf-8", "private, no-store")


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison; `*` matches any current representation."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def not_modified(content: Content, headers: Mapping[str, str]) -> bool:
    """True when a conditional GET may be answered 304 (RFC 9110 §13.2.2 order)."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        return content.etag is not None and _etag_matches(inm, content.etag)
    ims = headers.get("If-Modified-Since")
    if ims is not None and content.last_modified is not None:
        try:
            return parsedate_to_datetime(content.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False
