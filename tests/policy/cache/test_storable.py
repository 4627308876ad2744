from __future__ import annotations

from typing import Literal

import pytest
from multidict import CIMultiDict

from edgelab.policy.cache.directives import NONE, parse_cache_control
from edgelab.policy.cache.storable import storability
from tests.policy.cache.helpers import T0, date, headers

LM = date(T0 - 1000)

# (method, status, request CC, response headers, authorization, set_cookie) -> reason ("" = ok)
CASES: list[tuple[str, int, str, CIMultiDict[str], bool, str, str]] = [
    ("GET", 200, "", headers(Cache_Control="max-age=60"), False, "bypass", ""),
    ("HEAD", 200, "", headers(Cache_Control="max-age=60"), False, "bypass", "method"),
    ("POST", 200, "", headers(Cache_Control="max-age=60"), False, "bypass", "method"),
    # heuristically cacheable statuses need no explicit lifetime
    ("GET", 200, "", headers(Last_Modified=LM), False, "bypass", ""),
    ("GET", 404, "", headers(), False, "bypass", ""),
    ("GET", 301, "", headers(), False, "bypass", ""),
    # others need one
    ("GET", 302, "", headers(), False, "bypass", "no-lifetime"),
    ("GET", 302, "", headers(Cache_Control="max-age=60"), False, "bypass", ""),
    ("GET", 302, "", headers(Cache_Control="public"), False, "bypass", ""),
    ("GET", 503, "", headers(), False, "bypass", "status"),
    ("GET", 503, "", headers(Cache_Control="max-age=5"), False, "bypass", ""),
    ("GET", 206, "", headers(Cache_Control="max-age=60"), False, "bypass", "status"),
    ("GET", 304, "", headers(Cache_Control="max-age=60"), False, "bypass", "status"),
    ("GET", 101, "", headers(), False, "bypass", "status"),
    # no-store, private (request or response)
    ("GET", 200, "", headers(Cache_Control="no-store, max-age=60"), False, "bypass", "no-store"),
    ("GET", 200, "no-store", headers(Cache_Control="max-age=60"), False, "bypass", "no-store"),
    ("GET", 200, "", headers(Cache_Control="private, max-age=60"), False, "bypass", "private"),
    ("GET", 200, "", headers(Cache_Control='private="X-U", max-age=60'), False, "bypass", ""),
    # must-understand overrides no-store for an understood status, refuses the others
    (
        "GET",
        200,
        "",
        headers(Cache_Control="must-understand, no-store, max-age=9"),
        False,
        "bypass",
        "",
    ),
    (
        "GET",
        299,
        "",
        headers(Cache_Control="must-understand, max-age=9"),
        False,
        "bypass",
        "status",
    ),
    # Authorization only with public, s-maxage or must-revalidate (§3.5)
    ("GET", 200, "", headers(Cache_Control="max-age=60"), True, "bypass", "authorization"),
    ("GET", 200, "", headers(Cache_Control="public, max-age=60"), True, "bypass", ""),
    ("GET", 200, "", headers(Cache_Control="s-maxage=60"), True, "bypass", ""),
    ("GET", 200, "", headers(Cache_Control="must-revalidate, max-age=6"), True, "bypass", ""),
    # Vary: * is never served from cache, so never stored
    ("GET", 200, "", headers(Cache_Control="max-age=60", Vary="*"), False, "bypass", "vary-star"),
    ("GET", 200, "", headers(Cache_Control="max-age=60", Vary="Accept"), False, "bypass", ""),
    # Set-Cookie per config
    (
        "GET",
        200,
        "",
        headers(Cache_Control="max-age=60", Set_Cookie="a=1"),
        False,
        "bypass",
        "set-cookie",
    ),
    ("GET", 200, "", headers(Cache_Control="max-age=60", Set_Cookie="a=1"), False, "strip", ""),
    ("GET", 200, "", headers(Cache_Control="max-age=60", Set_Cookie="a=1"), False, "store", ""),
    # no-cache responses are stored, to be revalidated on every use
    ("GET", 302, "", headers(Cache_Control="no-cache"), False, "bypass", ""),
]


@pytest.mark.parametrize(("method", "status", "req_cc", "h", "auth", "cookie", "reason"), CASES)
def test_storability(
    method: str, status: int, req_cc: str, h: CIMultiDict[str], auth: bool, cookie: str, reason: str
) -> None:
    set_cookie: Literal["bypass", "strip", "store"] = cookie  # type: ignore[assignment]
    verdict = storability(
        method=method,
        status=status,
        request_cc=parse_cache_control([req_cc]) if req_cc else NONE,
        response_cc=parse_cache_control(h.getall("Cache-Control", [])),
        headers=h,
        has_authorization=auth,
        set_cookie=set_cookie,
    )
    assert (verdict.ok, verdict.reason) == (reason == "", reason)
