"""May a shared cache store this response? (RFC 9111 §3, §3.5, RFC 9110 §15.1; RFC 9213.)

    verdict = storability(method="GET", status=200, request_cc=NONE, response_cc=cc,
                          headers=response_headers, has_authorization=False, set_cookie="bypass")
    verdict.ok, verdict.reason      # True, "" | False, "no-store"

One reason per refusal, so metrics and `Cache-Status` can say why something was not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from edgelab.policy.cache.directives import Directives
from edgelab.policy.cache.freshness import HEURISTIC_STATUSES, has_explicit_lifetime

UNDERSTOOD_STATUSES = frozenset(
    {200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501}
)
"""Final statuses whose caching semantics this cache implements (for `must-understand`).
206 is left out: this cache stores whole responses only and serves ranges from them."""


@dataclass(frozen=True, slots=True)
class Storability:
    ok: bool
    reason: str = ""
    """Why not: method, status, no-store, private, authorization, set-cookie, vary-star,
    no-lifetime."""


STORABLE = Storability(True)


def storability(
    *,
    method: str,
    status: int,
    request_cc: Directives,
    response_cc: Directives,
    headers: Mapping[str, str],
    has_authorization: bool,
    set_cookie: Literal["bypass", "strip", "store"],
) -> Storability:
    """§3: the conditions under which a shared cache may store a response, in order."""
    if method != "GET":
        # HEAD responses carry no body to answer a later GET with; a HEAD is answered from a
        # stored GET response instead (§4.3.5 would let it freshen one; we do not need that).
        return Storability(False, "method")
    if status < 200 or status == 206 or status == 304 or (status >= 500 and status != 501):
        # Errors a CDN should not pin (5xx) unless the origin says so explicitly (below).
        if not (status >= 500 and has_explicit_lifetime(response_cc, headers)):
            return Storability(False, "status")
    if response_cc.must_understand:
        if status not in UNDERSTOOD_STATUSES:
            return Storability(False, "status")
        # §5.2.2.3: with must-understand and an understood status, no-store is overridden.
    elif response_cc.no_store:
        return Storability(False, "no-store")
    if request_cc.no_store:
        return Storability(False, "no-store")
    if response_cc.private:
        return Storability(False, "private")
    if has_authorization and not (
        response_cc.public or response_cc.s_maxage_s is not None or response_cc.must_revalidate
    ):
        return Storability(False, "authorization")
    if "*" in headers.get("Vary", ""):
        return Storability(False, "vary-star")
    if set_cookie == "bypass" and "Set-Cookie" in headers:
        return Storability(False, "set-cookie")
    if not (
        has_explicit_lifetime(response_cc, headers)
        or response_cc.public
        or response_cc.no_cache
        or status in HEURISTIC_STATUSES
    ):
        # §3 last bullet: explicit freshness, a cache-control extension allowing it, public,
        # or a heuristically cacheable status. A no-cache response is stored to be revalidated.
        return Storability(False, "no-lifetime")
    return STORABLE
