"""One edge's cache state: the store, its metrics, in-flight fetches and background refreshes.

    cache = EdgeCache(config.cache)
    cache.register_metrics(edge_registry)     # count into the POP's registry from now on
    cache.store.variants(key); cache.flights; await cache.close()

The cache stage and its serve-stale guard share one of these; a pushed config resizes it
(`resize`) without dropping what is stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from edgelab.config.cache import CacheConfig
from edgelab.edge.store import CachedResponse, MemoryStore
from edgelab.edge.tally import CounterTally
from edgelab.policy.cache.freshness import expired


class CacheMetrics:
    """The cache's Prometheus series, in the edge's registry."""

    def __init__(self, registry: CollectorRegistry, cache: EdgeCache) -> None:
        self.lookups = CounterTally(
            "edgelab_edge_cache_requests",
            "Requests by what the cache did (the X-Cache value)",
            ["result"],
            registry=registry,
        )
        """Bumped on every cacheable request: a plain-number tally (edgelab.edge.tally)."""
        self.hit = self.lookups.labels("hit")
        self.stale_served = Counter(
            "edgelab_edge_cache_stale_served",
            "Stale responses served, by reason (stale-while-revalidate, stale-if-error, "
            "max-stale, edge-error)",
            ["reason"],
            registry=registry,
        )
        self.revalidations = Counter(
            "edgelab_edge_cache_revalidations",
            "Conditional requests sent to the origin for stored responses, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.coalesced = Counter(
            "edgelab_edge_cache_coalesced",
            "Requests that waited for another request's fetch of the same object, by outcome "
            "(served from it, released uncacheable, timed out)",
            ["outcome"],
            registry=registry,
        )
        self.stores = Counter("edgelab_edge_cache_stores", "Responses stored", registry=registry)
        self.not_stored = Counter(
            "edgelab_edge_cache_not_stored",
            "Responses to cacheable requests that were not stored, by reason",
            ["reason"],
            registry=registry,
        )
        self.evictions = Counter(
            "edgelab_edge_cache_evictions",
            "Objects evicted to stay within max_bytes",
            registry=registry,
        )
        self.purged = Counter(
            "edgelab_edge_cache_purged_objects",
            "Objects removed by purge (admin API) or invalidation (unsafe methods)",
            ["by"],
            registry=registry,
        )
        size = Gauge("edgelab_edge_cache_bytes", "Bytes stored", registry=registry)
        size.set_function(lambda: cache.store.bytes_stored)
        objects = Gauge("edgelab_edge_cache_objects", "Objects stored", registry=registry)
        objects.set_function(lambda: len(cache.store))
        waiting = Gauge(
            "edgelab_edge_cache_waiting",
            "Requests waiting now for another request's fetch",
            registry=registry,
        )
        waiting.set_function(lambda: cache.waiting)


class Flight:
    """One fetch of an object that other requests for it may wait on."""

    __slots__ = ("done", "stored")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.stored = False
        """True when the fetch stored a response the waiters can use."""


class EdgeCache:
    """Store, metrics and concurrency state of one edge's cache."""

    def __init__(self, config: CacheConfig, registry: CollectorRegistry | None = None) -> None:
        self.store = MemoryStore(config.max_bytes, config.max_object_bytes, self._evicted)
        self.metrics = CacheMetrics(registry or CollectorRegistry(), self)
        self.flights: dict[str, Flight] = {}
        self.waiting = 0
        self.pass_until: dict[str, float] = {}
        """Key -> time until which misses skip coalescing (the object was uncacheable)."""
        self.refreshing: dict[str, asyncio.Task[Any]] = {}

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count into `registry` (the edge's) from now on."""
        self.metrics = CacheMetrics(registry, self)

    def resize(self, config: CacheConfig) -> None:
        """New limits; a smaller store evicts on the next store."""
        self.store.max_bytes = config.max_bytes
        self.store.max_object_bytes = config.max_object_bytes

    def _evicted(self, _: CachedResponse) -> None:
        self.metrics.evictions.inc()

    def take_off(self, key: str) -> Flight:
        """This request fetches `key`; others may wait on the returned flight."""
        flight = self.flights[key] = Flight()
        return flight

    def land(self, key: str, flight: Flight, stored: bool) -> None:
        """The fetch is over (stored or not): wake the waiters at once."""
        if flight.done.is_set():
            return
        flight.stored = stored
        flight.done.set()
        if self.flights.get(key) is flight:
            del self.flights[key]

    def no_coalescing(self, key: str, until: float) -> None:
        if len(self.pass_until) > 100_000:
            self.pass_until.clear()
        self.pass_until[key] = until

    def purge(
        self,
        *,
        urls: list[str] | None = None,
        prefixes: list[str] | None = None,
        tags: list[str] | None = None,
        everything: bool = False,
        by: str = "api",
        soft_at: float | None = None,
    ) -> int:
        """Remove the matching objects, or with `soft_at` (the time now) mark them stale
        instead (a soft purge: revalidated on next use, still there for serve-stale)."""
        if soft_at is not None:
            found = self.store.matching(
                urls=urls or (), prefixes=prefixes or (), tags=tags or (), everything=everything
            )
            for entry in found:
                entry.freshness = expired(entry.freshness, soft_at)
            n = len(found)
            by = f"soft-{by}"
        else:
            n = self.store.purge(
                urls=urls or (), prefixes=prefixes or (), tags=tags or (), everything=everything
            )
        if n:
            self.metrics.purged.labels(by).inc(n)
        return n

    async def close(self) -> None:
        """Cancel background refreshes (the edge is stopping)."""
        tasks = list(self.refreshing.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.refreshing.clear()
