"""The cache stages: a shared HTTP cache in front of the origin stage, and its serve-stale guard.

    cache = CacheStage(config.cache, pop, fetch=origin_stage)
    stages = [request_id, headers, cache.guard(), faults, waf, bot, cache, origin_stage]
    cache.register_metrics(edge.registry); cache.reconfigure(new_cache_config)

`CacheStage` sits just before the origin. Its request hook looks the request up and either
answers from the store (HIT, STALE) or lets it through to the origin as a miss or a
revalidation, after taking the client's conditionals and Range off (it fetches whole responses
and answers those itself) and adding the stored validators. Concurrent misses for one key send
one request; the others wait on it (`EdgeCache.flights`). Its response hook stores what may be
stored, turns a 304 into a refreshed entry, serves stale on origin errors (stale-if-error) and
invalidates on unsafe methods. Decisions come from `edgelab.policy.cache`; this module only reads
and writes the Exchange and the store.

Why a second stage (`CacheGuardStage`, right after the headers stage): a module that panics in
the WAF or bot stage answers 500 *before* the cache stage runs, so the cache stage's hooks never
see it. The guard's response hook is outside those modules: when the response is a 5xx with
`ex.error` set (a stage failure) and the edge is configured with a stale-if-error window
(`cache.stale_if_error_s > 0`, the serve-stale variant), it answers from the store instead. It
does no work on the request path and nothing unless a request failed, so a hit pays one call.
An origin's own `stale-if-error` covers origin errors only; covering the edge's own failures is
the operator's choice.

Every response the cache handled says so: `Age` for stored responses, `Cache-Status`
(RFC 9211) and `X-Cache`. Purge is on the admin listener (`admin_routes`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from edgelab.config.cache import CacheConfig
from edgelab.edge.cache import CacheMetrics, EdgeCache, Flight
from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.fieldnames import (
    CACHE_CONTROL,
    IF_MODIFIED_SINCE,
    IF_NONE_MATCH,
    PRAGMA,
    RANGE,
    VIA,
)
from edgelab.edge.headers import strip_hop_by_hop
from edgelab.edge.pipeline import Stage, settle
from edgelab.edge.store import CachedResponse
from edgelab.edge.upstream import chain_chunks
from edgelab.errors import UpstreamError
from edgelab.policy.cache import status as cs
from edgelab.policy.cache.directives import (
    CDN_CACHE_CONTROL,
    NONE,
    Directives,
    HeaderLookup,
    request_directives,
    response_directives,
)
from edgelab.policy.cache.freshness import FreshnessOptions, freshness
from edgelab.policy.cache.invalidation import SAFE_METHODS, invalidated_urls, surrogate_keys
from edgelab.policy.cache.key import KeyOptions, primary_key, url_of, vary_names, vary_values
from edgelab.policy.cache.ranges import UNSATISFIABLE, byte_range, if_range_allows
from edgelab.policy.cache.states import (
    Fresh,
    Miss,
    NotStorable,
    OnlyIfCached,
    Revalidate,
    Stale,
    after_response,
    lookup,
    on_error,
)
from edgelab.policy.cache.validation import (
    CLIENT_CONDITIONALS,
    client_not_modified,
    freshen_headers,
    not_modified_headers,
    validators,
)

logger = logging.getLogger(__name__)

_CTX = "_cache"
"""ex.notes key for what the request hook decided, for the response hook."""
_HANDLED = "_cache_handled"
"""Set once a cache stage has considered serving stale for this Exchange."""
ORIGIN_ERRORS = frozenset({500, 502, 503, 504})
"""Origin answers that count as errors for stale-if-error (RFC 5861 §4)."""
NOT_STORED_HEADERS = ("Content-Length", "Cache-Tag", "Surrogate-Key")
"""Recomputed on the way out (length) or private to the CDN (purge tags, as CDNs strip them)."""


@dataclass(slots=True)
class _Forwarded:
    """A cacheable request on its way to the origin, between the request and response hooks."""

    key: str
    url: str
    request_time: float
    req_cc: Directives
    fwd: str
    """RFC 9211 fwd: uri-miss, vary-miss, stale, request."""
    entry: CachedResponse | None = None
    """The stored response being revalidated, or the stand-in if the origin fails."""
    revalidating: bool = False
    flight: Flight | None = None
    """Set when this request leads the fetch others wait on."""
    collapsed: bool | None = None
    """False when it waited for another fetch that gave nothing usable (RFC 9211 collapsed)."""
    background: bool = False
    """A stale-while-revalidate refresh: no client waits for it, so it is not counted as one."""


_BYPASS = "bypass"


def _match(variants: Sequence[CachedResponse], headers: HeaderLookup) -> CachedResponse | None:
    """The stored response whose Vary values equal the request's (§4.1)."""
    for entry in variants:
        if not entry.vary or vary_values(entry.vary, headers) == entry.variant:
            return entry
    return None


def _age(seconds: float) -> str:
    return str(int(seconds)) if seconds < 2**31 else str(2**31)


def serve_stored(
    ex: Exchange, entry: CachedResponse, age_s: float, x_cache: str, cache_status: str
) -> None:
    """Answer `ex` from `entry`: 304 for a matching client conditional, 206/416 for one Range."""
    rh = ex.request.headers
    status = entry.status
    block = entry.fields
    if block is not None and (
        status != 200 or not (IF_NONE_MATCH in rh or IF_MODIFIED_SINCE in rh or RANGE in rh)
    ):
        # The common hit: the stored fields as joined when stored, and the three of this hit.
        ex.response = EdgeResponse.with_stored(
            status,
            block,
            {
                "age": ("Age", _age(age_s)),
                "cache-status": ("Cache-Status", cache_status),
                "x-cache": ("X-Cache", x_cache),
            },
            entry.body,
        )
        ex.notes["cache_status"] = x_cache
        ex.notes["from_origin"] = VIA in block.headers
        return
    headers = entry.headers.copy()
    body = entry.body
    if status == 200:
        if ("If-None-Match" in rh or "If-Modified-Since" in rh) and client_not_modified(
            rh, entry.headers
        ):
            status, body, headers = 304, b"", not_modified_headers(entry.headers)
        elif "Range" in rh and ex.request.method == "GET":
            r = (
                byte_range(rh["Range"], len(body))
                if if_range_allows(rh.get("If-Range"), entry.headers)
                else None
            )
            if r is UNSATISFIABLE:
                status, body = 416, b""
                headers["Content-Range"] = f"bytes */{len(entry.body)}"
            elif r is not None:
                status, body = 206, body[r.first : r.last + 1]
                headers["Content-Range"] = r.content_range(len(entry.body))
    headers["Age"] = _age(age_s)
    prior = headers.get("Cache-Status")
    # RFC 9211 §2: each cache appends its member; an upstream cache's stays in front.
    headers["Cache-Status"] = f"{prior}, {cache_status}" if prior else cache_status
    headers["X-Cache"] = x_cache
    ex.response = EdgeResponse(status=status, headers=headers, body=body)
    ex.notes["cache_status"] = x_cache
    # The headers stage appends our Via to origin responses and only adds it when absent to
    # the edge's own: a stored response that came with a Via gets the origin treatment.
    ex.notes["from_origin"] = "Via" in headers


class CacheStage:
    """The shared cache: lookup, coalescing, store, revalidation, serve-stale, invalidation."""

    name = "cache"
    config_section = "cache"
    """A pushed `edge-config` with a `cache` section is applied live (`reconfigure`)."""

    def __init__(
        self, config: CacheConfig, pop: str, fetch: Stage, edge_cache: EdgeCache | None = None
    ) -> None:
        self.pop = pop
        self.fetch = fetch
        """The stage after this one (the origin); used for background refreshes."""
        self.cache = edge_cache or EdgeCache(config)
        self.store = self.cache.store
        self._hit_status = f"{pop}; hit; ttl="
        self._guards: list[CacheGuardStage] = []
        self.reconfigure(config)

    @property
    def metrics(self) -> CacheMetrics:
        return self.cache.metrics

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count into the edge's registry from now on (called once by the EdgeServer)."""
        self.cache.register_metrics(registry)

    def reconfigure(self, config: CacheConfig) -> None:
        """Take a new `cache` section (a pushed config, e.g. the serve-stale variant's); what
        is stored stays, and the new stale windows apply to it at once."""
        self.config = config
        for guard in self._guards:
            guard.idle = not guard.active
        self.cache.resize(config)
        self.key_options = KeyOptions(
            include_host=config.key.include_host,
            ignore_query=config.key.ignore_query,
            sort_query=config.key.sort_query,
            headers=config.key.headers,
        )
        self._plain_key = self.key_options.plain
        self.targeted = (config.targeted_field, CDN_CACHE_CONTROL)
        self.freshness_options = FreshnessOptions(
            heuristic_fraction=config.heuristic_fraction,
            heuristic_max_s=config.heuristic_max_s,
            default_stale_while_revalidate_s=config.stale_while_revalidate_s,
            default_stale_if_error_s=config.stale_if_error_s,
        )

    def guard(self) -> CacheGuardStage:
        """The serve-stale guard to place outside the modules that can fail (see module doc)."""
        guard = CacheGuardStage(self)
        self._guards.append(guard)
        return guard

    # -- request -----------------------------------------------------------------------------

    def key_of(self, req: ClientRequest) -> str:
        if self._plain_key:
            return f"{req.scheme}://{req.host.lower()}{req.target}"
        return primary_key(
            req.scheme, req.host, req.path, req.query_string, req.headers, self.key_options
        )

    def request(self, ex: Exchange) -> Awaitable[None] | None:
        """Answer from the store or prepare the origin request. A plain method: it returns an
        awaitable only when the request waits for another's fetch (coalescing), so a hit
        costs no coroutine."""
        req = ex.request
        method = req.method
        if (method != "GET" and method != "HEAD") or not self.config.enabled:
            ex.notes[_CTX] = _BYPASS
            return None
        h = req.headers
        key = self.key_of(req)
        now = time.time()
        variants = self.store.variants(key)
        entry = _match(variants, h) if variants else None
        req_cc = request_directives(h) if (CACHE_CONTROL in h or PRAGMA in h) else NONE
        if entry is not None and req_cc is NONE:
            # The common hit, flat: `lookup`'s Fresh rule for a request without directives.
            f = entry.freshness
            age = f.initial_age_s + (now - f.response_time if now > f.response_time else 0.0)
            if not f.no_cache and f.lifetime_s > age:
                self.metrics.hit.inc()
                ex.path_taken = "cache"
                serve_stored(ex, entry, age, cs.HIT, self._hit_status + _ttl(f.lifetime_s - age))
                return None
        decision = lookup(
            entry.freshness if entry is not None else None,
            req_cc,
            now,
            vary_miss=entry is None and bool(variants),
            default_swr_s=self.config.stale_while_revalidate_s,
        )
        if type(decision) is Fresh:
            assert entry is not None
            self.metrics.hit.inc()
            ex.path_taken = "cache"
            serve_stored(ex, entry, decision.age_s, cs.HIT, self._hit_status + _ttl(decision.ttl_s))
            return None
        if type(decision) is Stale:
            assert entry is not None
            self._serve_stale(
                ex,
                entry,
                decision,
                cs.cache_status(self.pop, hit=True, ttl_s=decision.ttl_s, detail=decision.reason),
            )
            if decision.refresh:
                self._refresh(ex, key, entry)
            return None
        if type(decision) is OnlyIfCached:
            ex.response = error_response(504, "not in cache (only-if-cached)", ex)
            ex.response.headers["Cache-Status"] = cs.cache_status(self.pop, detail="only-if-cached")
            ex.response.headers["X-Cache"] = cs.MISS
            ex.notes["cache_status"] = cs.MISS
            self.metrics.lookups.labels("miss").inc()
            return None
        assert isinstance(decision, Miss | Revalidate)
        fwd = _Forwarded(key, url_of(req.scheme, req.host, req.target), now, req_cc, decision.fwd)
        fwd.entry = entry
        if method == "GET" and self.config.coalesce and self.cache.pass_until.get(key, 0.0) < now:
            flight = self.cache.flights.get(key)
            if flight is not None:
                return self._wait_or_forward(ex, key, flight, fwd, now, entry, decision)
            fwd.flight = self.cache.take_off(key)
            task = asyncio.current_task()
            if task is not None:
                # The request may end any way (client gone, cancelled): waiters wake then.
                task.add_done_callback(_lander(self.cache, key, fwd.flight))
        self._forward(ex, fwd, entry, decision)
        return None

    async def _wait_or_forward(
        self,
        ex: Exchange,
        key: str,
        flight: Flight,
        fwd: _Forwarded,
        arrived: float,
        entry: CachedResponse | None,
        decision: Miss | Revalidate,
    ) -> None:
        if not await self._wait(ex, key, flight, fwd, arrived):
            self._forward(ex, fwd, entry, decision)

    def _forward(
        self,
        ex: Exchange,
        fwd: _Forwarded,
        entry: CachedResponse | None,
        decision: Miss | Revalidate,
    ) -> None:
        """Let the request through to the origin: without the client's conditionals, with
        `entry`'s validators when revalidating it."""
        up = ex.origin_headers()
        for name in CLIENT_CONDITIONALS:
            up.popall(name, None)
        if entry is not None and ex.request.method == "GET" and type(decision) is Revalidate:
            vals = validators(entry.headers)
            if vals:
                up.update(vals)
                fwd.revalidating = True
        ex.notes[_CTX] = fwd

    async def _wait(
        self, ex: Exchange, key: str, flight: Flight, fwd: _Forwarded, arrived: float
    ) -> bool:
        """Wait (bounded) for another request's fetch; True when that answered this request."""
        self.cache.waiting += 1
        try:
            await asyncio.wait_for(flight.done.wait(), self.config.coalesce_wait_s)
        except TimeoutError:
            self.metrics.coalesced.labels("timeout").inc()
            fwd.collapsed = False
            return False
        finally:
            self.cache.waiting -= 1
        if flight.stored:
            entry = _match(self.store.variants(key), ex.request.headers)
            # A response fetched after this request arrived answers it, whatever its request
            # directives asked for (RFC 9111 §4: collapsed requests).
            if entry is not None and entry.freshness.response_time >= arrived:
                self.metrics.coalesced.labels("served").inc()
                self.metrics.hit.inc()
                ex.path_taken = "cache"
                now = time.time()
                serve_stored(
                    ex,
                    entry,
                    entry.freshness.age(now),
                    cs.HIT,
                    cs.cache_status(
                        self.pop, fwd=fwd.fwd, ttl_s=entry.freshness.ttl(now), collapsed=True
                    ),
                )
                return True
        self.metrics.coalesced.labels("released").inc()
        fwd.collapsed = False
        fwd.entry = _match(self.store.variants(key), ex.request.headers) or fwd.entry
        return False

    def _serve_stale(self, ex: Exchange, entry: CachedResponse, stale: Stale, status: str) -> None:
        self.metrics.lookups.labels("stale").inc()
        self.metrics.stale_served.labels(stale.reason).inc()
        ex.path_taken = "cache"
        ex.verdict(self.name, "stale", stale.reason)
        serve_stored(ex, entry, stale.age_s, cs.STALE, status)

    # -- response ----------------------------------------------------------------------------

    def response(self, ex: Exchange) -> Awaitable[None] | None:
        fwd = ex.notes.get(_CTX)
        if fwd is None:  # answered here (a hit) or before the cache
            return None
        if fwd is _BYPASS:
            self._bypassed(ex)
            return None
        return self._completed(ex, fwd)

    async def _completed(self, ex: Exchange, fwd: _Forwarded) -> None:
        try:
            await self._complete(ex, fwd)
        finally:
            if fwd.flight is not None:
                self.cache.land(fwd.key, fwd.flight, stored=False)

    def _bypassed(self, ex: Exchange) -> None:
        resp = ex.response
        assert resp is not None
        req = ex.request
        self.metrics.lookups.labels("bypass").inc()
        ex.notes["cache_status"] = cs.BYPASS
        fwd = "method" if self.config.enabled else "bypass"
        _add_status(
            resp.headers,
            cs.cache_status(
                self.pop, fwd=fwd, fwd_status=resp.status if ex.error is None else None
            ),
        )
        resp.headers["X-Cache"] = cs.BYPASS
        if req.method not in SAFE_METHODS and ex.error is None:
            urls = invalidated_urls(
                req.method, resp.status, url_of(req.scheme, req.host, req.target), resp.headers
            )
            if urls:
                self.cache.purge(urls=urls, by="invalidation")

    async def _complete(self, ex: Exchange, fwd: _Forwarded) -> None:
        """Turn the origin's answer into what the client gets, storing what may be stored."""
        resp = ex.response
        assert resp is not None
        req = ex.request
        now = time.time()
        if (ex.error is not None or resp.status in ORIGIN_ERRORS) and await self._on_failure(
            ex, fwd, now
        ):
            return
        if fwd.revalidating and resp.status == 304 and fwd.entry is not None:
            await self._freshen(ex, fwd, now)
            return
        if fwd.revalidating:
            self.metrics.revalidations.labels("modified").inc()
        if req.method == "HEAD":
            self._decorate(ex, cs.MISS, fwd, resp.status, stored=None)
            return
        resp_cc = response_directives(resp.headers, self.targeted)
        verdict = after_response(
            method=req.method,
            status=resp.status,
            request_cc=fwd.req_cc,
            response_cc=resp_cc,
            headers=resp.headers,
            has_authorization="Authorization" in req.headers,
            set_cookie=self.config.set_cookie,
            request_time=fwd.request_time,
            response_time=now,
            options=self.freshness_options,
        )
        if isinstance(verdict, NotStorable):
            self._not_stored(ex, fwd, verdict.reason, now)
            return
        cap = self.store.max_object_bytes
        if resp.content_length is not None and resp.content_length > cap:
            self._not_stored(ex, fwd, "too-large", now)
            return
        try:
            body = await _read_up_to(resp, cap)
        except UpstreamError as e:
            logger.info("origin broke off: %s", e, extra={"request_id": ex.ray_id})
            ex.error = e
            ex.verdict("origin", "error", str(e))
            await _release(resp)
            ex.response = error_response(e.status, "The origin could not be reached.", ex)
            await self._on_failure(ex, fwd, now)
            return
        if body is None:
            self._not_stored(ex, fwd, "too-large", now)
            return
        headers = strip_hop_by_hop(resp.headers)
        for name in NOT_STORED_HEADERS:
            headers.popall(name, None)
        client_headers = headers.copy() if self.config.set_cookie == "strip" else headers
        stored_headers = headers
        drop = set(resp_cc.private_fields) | set(resp_cc.no_cache_fields)
        if self.config.set_cookie == "strip":
            drop.add("set-cookie")
        if drop:
            stored_headers = CIMultiDict(
                (k, v) for k, v in headers.items() if k.lower() not in drop
            )
        vary = vary_names(resp.headers.getall("Vary", [])) or ()
        entry = CachedResponse(
            key=fwd.key,
            url=fwd.url,
            status=resp.status,
            headers=stored_headers,
            body=body,
            freshness=verdict.freshness,
            vary=vary,
            variant=vary_values(vary, req.headers),
            tags=surrogate_keys(
                resp.headers.getall("Cache-Tag", []), resp.headers.getall("Surrogate-Key", [])
            ),
        )
        stored = self.store.put(entry)
        if stored:
            self.metrics.stores.inc()
        else:
            self.metrics.not_stored.labels("too-large").inc()
        logger.debug(
            "%s %s: %s, ttl %.0fs",
            fwd.fwd,
            fwd.key,
            "stored" if stored else "not stored (too large)",
            entry.freshness.ttl(now),
            extra={"request_id": ex.ray_id, "stage": self.name},
        )
        if fwd.flight is not None:
            self.cache.land(fwd.key, fwd.flight, stored=stored)
        served = entry if client_headers is stored_headers else _with_headers(entry, client_headers)
        if not fwd.background:
            self.metrics.lookups.labels("miss").inc()
        serve_stored(
            ex,
            served,
            entry.freshness.age(now),
            cs.MISS,
            cs.cache_status(
                self.pop,
                fwd=fwd.fwd,
                fwd_status=resp.status,
                ttl_s=entry.freshness.ttl(now),
                stored=stored,
                collapsed=fwd.collapsed,
                detail=None if stored else "too-large",
            ),
        )
        ex.path_taken = "origin"

    async def _on_failure(self, ex: Exchange, fwd: _Forwarded, now: float) -> bool:
        """The origin failed (5xx, unreachable, timeout): serve the stored response if
        stale-if-error allows (RFC 5861 §4). True when the failure is fully handled."""
        resp = ex.response
        assert resp is not None
        ex.notes[_HANDLED] = True
        stand_in = on_error(
            fwd.entry.freshness if fwd.entry is not None else None,
            now,
            self.config.stale_if_error_s,
        )
        if stand_in is not None and fwd.entry is not None:
            if fwd.revalidating:
                self.metrics.revalidations.labels("error").inc()
            await _release(resp)
            self._serve_stale(
                ex,
                fwd.entry,
                stand_in,
                cs.cache_status(
                    self.pop,
                    fwd=fwd.fwd,
                    fwd_status=resp.status if ex.error is None else None,
                    ttl_s=stand_in.ttl_s,
                    detail="stale-if-error",
                ),
            )
            if ex.error is not None:
                ex.notes["cache_served_for_error"] = repr(ex.error)
                ex.error = None
            return True
        if ex.error is not None:
            self._decorate(ex, cs.MISS, fwd, None, stored=None)
            return True
        return False

    async def _freshen(self, ex: Exchange, fwd: _Forwarded, now: float) -> None:
        """304 to our validators: update the stored headers (§4.3.4) and serve the entry."""
        resp = ex.response
        assert resp is not None and fwd.entry is not None
        old = fwd.entry
        await _release(resp)
        update = strip_hop_by_hop(resp.headers)
        for name in NOT_STORED_HEADERS:
            update.popall(name, None)
        merged = freshen_headers(old.headers, update)
        entry = CachedResponse(
            key=old.key,
            url=old.url,
            status=old.status,
            headers=merged,
            body=old.body,
            freshness=freshness(
                response_directives(merged, self.targeted),
                merged,
                status=old.status,
                request_time=fwd.request_time,
                response_time=now,
                options=self.freshness_options,
            ),
            vary=old.vary,
            variant=old.variant,
            tags=old.tags,
        )
        stored = self.store.put(entry)
        if fwd.flight is not None:
            self.cache.land(fwd.key, fwd.flight, stored=stored)
        self.metrics.revalidations.labels("not-modified").inc()
        if not fwd.background:
            self.metrics.lookups.labels("revalidated").inc()
        ex.path_taken = "cache"
        serve_stored(
            ex,
            entry,
            entry.freshness.age(now),
            cs.REVALIDATED,
            cs.cache_status(
                self.pop,
                fwd=fwd.fwd,
                fwd_status=304,
                ttl_s=entry.freshness.ttl(now),
                stored=stored,
                collapsed=fwd.collapsed,
            ),
        )

    def _not_stored(self, ex: Exchange, fwd: _Forwarded, reason: str, now: float) -> None:
        """The response streams through; waiters are released at once and later misses for
        this key skip coalescing for a while (hit-for-pass)."""
        assert ex.response is not None
        self.metrics.not_stored.labels(reason).inc()
        logger.debug(
            "%s %s: not stored (%s)",
            fwd.fwd,
            fwd.key,
            reason,
            extra={"request_id": ex.ray_id, "stage": self.name},
        )
        if fwd.flight is not None:
            self.cache.land(fwd.key, fwd.flight, stored=False)
        if self.config.hit_for_pass_s > 0 and ex.response.status < 500:
            # Not for origin errors: the object is cacheable once the origin recovers, and a
            # struggling origin is exactly when concurrent misses must keep coalescing.
            self.cache.no_coalescing(fwd.key, now + self.config.hit_for_pass_s)
        if fwd.entry is not None and ex.response.status < 500 and reason != "too-large":
            # The origin now answers something not storable: the old copy must not come back.
            self.store.remove(fwd.entry)
        self._decorate(ex, cs.MISS, fwd, ex.response.status, stored=False, detail=reason)

    def _decorate(
        self,
        ex: Exchange,
        x_cache: str,
        fwd: _Forwarded,
        fwd_status: int | None,
        *,
        stored: bool | None,
        detail: str | None = None,
    ) -> None:
        resp = ex.response
        assert resp is not None
        if not fwd.background:
            self.metrics.lookups.labels(x_cache.lower()).inc()
        ex.notes["cache_status"] = x_cache
        _add_status(
            resp.headers,
            cs.cache_status(
                self.pop,
                fwd=fwd.fwd,
                fwd_status=fwd_status,
                stored=stored,
                collapsed=fwd.collapsed,
                detail=detail,
            ),
        )
        resp.headers["X-Cache"] = x_cache

    # -- stale-while-revalidate --------------------------------------------------------------

    def _refresh(self, ex: Exchange, key: str, entry: CachedResponse) -> None:
        """Revalidate `entry` in the background, one refresh per key at a time (RFC 5861 §3)."""
        if key in self.cache.refreshing:
            return
        req = ex.request
        sub = Exchange(
            request=ClientRequest(
                method="GET",
                path=req.path,
                query_string=req.query_string,
                headers=CIMultiDict(req.headers),
                client_ip=req.client_ip,
                scheme=req.scheme,
                host=req.host,
            ),
            pop=ex.pop,
            ray_id=f"{ex.ray_id}-swr",
        )
        up = ex.origin_headers().copy()
        for name in CLIENT_CONDITIONALS:
            up.popall(name, None)
        vals = validators(entry.headers)
        up.update(vals)
        sub.upstream_headers = up
        fwd = _Forwarded(
            key,
            entry.url,
            time.time(),
            NONE,
            "stale",
            entry=entry,
            revalidating=bool(vals),
            background=True,
        )
        task = asyncio.get_running_loop().create_task(self._run_refresh(sub, fwd))
        self.cache.refreshing[key] = task
        task.add_done_callback(lambda _: self.cache.refreshing.pop(key, None))

    async def _run_refresh(self, sub: Exchange, fwd: _Forwarded) -> None:
        try:
            await settle(self.fetch.request(sub))
            resp = sub.response
            if resp is None:
                return
            if sub.error is not None or resp.status in ORIGIN_ERRORS:
                # The stale copy keeps serving (within its window); nothing to store.
                self.metrics.revalidations.labels("error").inc()
                return
            await self._complete(sub, fwd)
        except Exception:
            logger.exception("background refresh of %s failed", fwd.url)
        finally:
            if sub.response is not None:
                await _release(sub.response)

    # -- admin -------------------------------------------------------------------------------

    def admin_routes(self) -> list[web.RouteDef]:
        """`POST /cache/purge` and `GET /cache/stats` on the admin listener."""
        return [
            web.post("/cache/purge", self._purge_handler),
            web.get("/cache/stats", self._stats_handler),
        ]

    async def _purge_handler(self, request: web.Request) -> web.Response:
        """Body: `{"urls": [...], "prefixes": [...], "tags": [...], "all": true, "soft": false}`
        (any mix of selectors).

        A URL or prefix starting with `/` matches path and query on every host. `soft: true`
        marks the objects stale instead of removing them (revalidated on next use; serve-stale
        can still answer with them). Answers `{"purged": N}`; a malformed body gets 400
        `{"error": ...}`.
        """
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        unknown = set(body) - {"urls", "prefixes", "tags", "all", "soft"}
        if unknown:
            return web.json_response(
                {"error": f"unknown field(s): {', '.join(sorted(unknown))}"}, status=400
            )
        lists: dict[str, list[str]] = {}
        for name in ("urls", "prefixes", "tags"):
            value = body.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return web.json_response({"error": f"{name} must be a list of strings"}, status=400)
            lists[name] = value
        everything, soft = body.get("all", False), body.get("soft", False)
        if not isinstance(everything, bool) or not isinstance(soft, bool):
            return web.json_response({"error": "all and soft must be true or false"}, status=400)
        if not (everything or any(lists.values())):
            return web.json_response(
                {"error": "nothing to purge: give urls, prefixes, tags or all"}, status=400
            )
        by = "all" if everything else "+".join(k for k, v in lists.items() if v)
        n = self.cache.purge(
            urls=lists["urls"],
            prefixes=lists["prefixes"],
            tags=lists["tags"],
            everything=everything,
            by=by,
            soft_at=time.time() if soft else None,
        )
        logger.info("purged %d objects (%s%s)", n, "soft, " if soft else "", by)
        return web.json_response({"purged": n})

    async def _stats_handler(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "objects": len(self.store),
                "bytes": self.store.bytes_stored,
                "max_bytes": self.config.max_bytes,
                "max_object_bytes": self.config.max_object_bytes,
                "in_flight": len(self.cache.flights),
                "waiting": self.cache.waiting,
                "refreshing": len(self.cache.refreshing),
            }
        )

    async def close(self) -> None:
        await self.cache.close()


class CacheGuardStage:
    """Serve-stale for failures inside the edge: a 5xx that a stage failure produced is
    answered from the store when `stale_if_error_s > 0` (see the module docstring)."""

    name = "cache_guard"

    def __init__(self, cache: CacheStage) -> None:
        self.cache = cache
        self.idle = not self.active
        """No stale-if-error window is configured: the pipeline passes the guard over (kept
        up to date by `CacheStage.reconfigure`)."""

    @property
    def active(self) -> bool:
        """On while the cache is on with a configured stale-if-error window (read per failure,
        so a pushed config switches it)."""
        config = self.cache.config
        return config.enabled and config.stale_if_error_s > 0

    def request(self, ex: Exchange) -> None:
        return None

    def response(self, ex: Exchange) -> Awaitable[None] | None:
        resp = ex.response
        if (
            resp is None
            or resp.status < 500
            or ex.error is None
            or not self.active
            or _HANDLED in ex.notes
            or ex.request.method not in ("GET", "HEAD")
        ):
            return None
        return self._stand_in(ex, resp)

    async def _stand_in(self, ex: Exchange, resp: EdgeResponse) -> None:
        """Answer from the store if stale-if-error allows."""
        ex.notes[_HANDLED] = True
        stage = self.cache
        entry = _match(stage.store.variants(stage.key_of(ex.request)), ex.request.headers)
        if entry is None:
            return
        stale = on_error(entry.freshness, time.time(), stage.config.stale_if_error_s)
        if stale is None:
            return
        await _release(resp)
        stage.metrics.lookups.labels("stale").inc()
        stage.metrics.stale_served.labels("edge-error").inc()
        ex.verdict(stage.name, "stale", f"edge-error: {type(ex.error).__name__}")
        ex.notes["cache_served_for_error"] = repr(ex.error)
        ex.error = None
        ex.path_taken = "cache"
        serve_stored(
            ex,
            entry,
            stale.age_s,
            cs.STALE,
            cs.cache_status(stage.pop, hit=True, ttl_s=stale.ttl_s, detail="edge-error"),
        )


def _add_status(headers: CIMultiDict[str], member: str) -> None:
    prior = headers.get("Cache-Status")
    headers["Cache-Status"] = f"{prior}, {member}" if prior else member


def _ttl(ttl_s: float) -> str:
    return str(int(ttl_s))


def _lander(cache: EdgeCache, key: str, flight: Flight) -> Any:
    def done(_: object) -> None:
        cache.land(key, flight, stored=False)

    return done


def _with_headers(entry: CachedResponse, headers: CIMultiDict[str]) -> CachedResponse:
    return CachedResponse(
        key=entry.key,
        url=entry.url,
        status=entry.status,
        headers=headers,
        body=entry.body,
        freshness=entry.freshness,
        vary=entry.vary,
        variant=entry.variant,
        size=entry.size,
    )


async def _release(resp: EdgeResponse) -> None:
    if resp.release is not None:
        release, resp.release = resp.release, None
        await release()


async def _read_up_to(resp: EdgeResponse, cap: int) -> bytes | None:
    """The whole body if it is at most `cap` bytes (the upstream connection is then released);
    else None, with `resp.stream` rewound so the client still gets every byte."""
    if resp.stream is None:
        return resp.body if len(resp.body) <= cap else None
    chunks: list[bytes] = []
    size = 0
    stream = resp.stream
    async for chunk in stream:
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            resp.stream = chain_chunks(chunks, stream)
            return None
    await _release(resp)
    resp.stream = None
    return b"".join(chunks)
