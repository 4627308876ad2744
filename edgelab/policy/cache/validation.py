"""Validation (RFC 9111 §4.3): conditional requests to the origin, 304 handling, and answering a
client's own conditional request from a stored response.

    validators(stored_headers)                       # {"If-None-Match": '"abc"', ...}
    merged = freshen_headers(stored_headers, headers_of_304)
    client_not_modified(request_headers, stored_headers)   # True -> answer 304

A stored response is revalidated with its own validators, never the client's: the client's
conditionals are evaluated here, against the stored (or just fetched) full response.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict

from edgelab.policy.cache.directives import HeaderLookup
from edgelab.policy.cache.freshness import http_date

CLIENT_CONDITIONALS = ("If-None-Match", "If-Modified-Since", "If-Range", "Range")
"""Request fields the cache takes out of a forwarded cacheable request: it fetches the whole
representation (or validates its own copy) and answers these itself."""

NOT_UPDATED_ON_304 = frozenset({"content-length", "content-encoding", "content-range"})
"""§4.3.4: fields a 304 must not overwrite in the stored response (they describe the body)."""

HEADERS_IN_304 = ("Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary")
"""RFC 9110 §15.4.5: what a 304 carries from the response it stands for (plus Last-Modified)."""


def validators(stored: Mapping[str, str]) -> dict[str, str]:
    """Conditional headers to revalidate a stored response (§4.3.1): ETag, else Last-Modified."""
    out: dict[str, str] = {}
    etag = stored.get("ETag")
    if etag:
        out["If-None-Match"] = etag
    last_modified = stored.get("Last-Modified")
    if last_modified:
        out["If-Modified-Since"] = last_modified
    return out


def freshen_headers(stored: CIMultiDict[str], update: Mapping[str, str]) -> CIMultiDict[str]:
    """The stored headers updated by a 304's (§4.3.4): each field in the 304 replaces the stored
    one, except those that describe the stored body."""
    out = stored.copy()
    replaced: set[str] = set()
    for name, value in update.items():
        low = name.lower()
        if low in NOT_UPDATED_ON_304:
            continue
        if low not in replaced:
            out.popall(name, None)
            replaced.add(low)
        out.add(name, value)
    return out


def _etag_list_matches(header: str, etag: str | None) -> bool:
    """If-None-Match uses weak comparison (RFC 9110 §13.1.2); `*` matches any stored response."""
    if header.strip() == "*":
        return True
    if not etag:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def client_not_modified(request: HeaderLookup, stored: Mapping[str, str]) -> bool:
    """True when a GET/HEAD with these conditionals gets 304 from `stored` (RFC 9110 §13.2.2)."""
    inm = request.getall("If-None-Match", [])
    if inm:
        return _etag_list_matches(",".join(inm), stored.get("ETag"))
    ims = request.getall("If-Modified-Since", [])
    if ims:
        since = http_date(ims[0])
        modified = http_date(stored.get("Last-Modified")) or http_date(stored.get("Date"))
        return since is not None and modified is not None and modified <= since
    return False


def not_modified_headers(stored: Mapping[str, str]) -> CIMultiDict[str]:
    """The fields a 304 from the cache carries (RFC 9110 §15.4.5)."""
    out: CIMultiDict[str] = CIMultiDict()
    for name in (*HEADERS_IN_304, "Last-Modified"):
        value = stored.get(name)
        if value is not None:
            out[name] = value
    return out
