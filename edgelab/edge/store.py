"""Where the edge keeps cached responses: the `CacheStore` protocol and an in-memory LRU store.

    store = MemoryStore(max_bytes=256 << 20, max_object_bytes=8 << 20)
    store.put(entry)                       # False when it is over the per-object cap
    store.variants(entry.key)              # stored responses for a primary key (LRU touched)
    store.purge(urls=["http://www.example/app.js"], prefixes=["/static/"], tags=["product-7"])

The store knows nothing of HTTP semantics: `edgelab.policy.cache` decides, the cache stage
reads and writes here. Bounded in bytes (bodies plus headers) with least-recently-used
eviction; one object per (primary key, Vary values).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from multidict import CIMultiDict

from edgelab.edge.responsehead import FieldBlock, field_block
from edgelab.policy.cache.freshness import Freshness

Variant = tuple[str | None, ...]
"""The request's values for the stored response's Vary fields (empty without Vary)."""


@dataclass(slots=True)
class CachedResponse:
    """One stored response. Headers are end-to-end only, without Content-Length."""

    key: str
    url: str
    """Absolute request URL (for purge by URL/prefix and §4.4 invalidation)."""
    status: int
    headers: CIMultiDict[str]
    body: bytes
    freshness: Freshness
    vary: tuple[str, ...] = ()
    variant: Variant = ()
    tags: frozenset[str] = frozenset()
    """From `Cache-Tag` / `Surrogate-Key`, for purge by tag."""
    size: int = 0
    """Bytes charged against the store: body plus header text (computed when 0)."""
    fields: FieldBlock | None = field(default=None, init=False, repr=False, compare=False)
    """`headers` joined once for the response head of each hit (None: they cannot be, see
    `edgelab.edge.responsehead.field_block`; hits then join them each time)."""

    def __post_init__(self) -> None:
        if not self.size:
            self.size = len(self.body) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        self.fields = field_block(self.headers)

    @property
    def target(self) -> str:
        """Path and query of `url`."""
        rest = self.url.split("://", 1)[-1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"


class CacheStore(Protocol):
    """What the cache stage needs from a store (in memory here; a disk or shared tier later)."""

    max_object_bytes: int

    def variants(self, key: str) -> Sequence[CachedResponse]:
        """Stored responses for `key`, most recent first; marks them recently used."""

    def put(self, entry: CachedResponse) -> bool:
        """Store `entry` (replacing the same key and variant); False when it is too large."""

    def remove(self, entry: CachedResponse) -> None: ...

    def matching(
        self,
        *,
        urls: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        tags: Iterable[str] = (),
        everything: bool = False,
    ) -> list[CachedResponse]:
        """Stored objects that match. A URL or prefix starting with `/` matches the path and
        query on any host; otherwise the absolute URL."""

    def purge(
        self,
        *,
        urls: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        tags: Iterable[str] = (),
        everything: bool = False,
    ) -> int:
        """Remove what `matching` selects; returns how many went."""

    @property
    def bytes_stored(self) -> int: ...

    def __len__(self) -> int: ...


class MemoryStore:
    """`CacheStore` in a dict, bounded in bytes, least recently used out first."""

    def __init__(
        self,
        max_bytes: int,
        max_object_bytes: int,
        on_evict: Callable[[CachedResponse], None] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_object_bytes = max_object_bytes
        self.on_evict = on_evict
        self._lru: OrderedDict[tuple[str, Variant], CachedResponse] = OrderedDict()
        self._by_key: dict[str, list[CachedResponse]] = {}
        self._by_url: dict[str, set[tuple[str, Variant]]] = {}
        self._by_tag: dict[str, set[tuple[str, Variant]]] = {}
        self._bytes = 0

    @property
    def bytes_stored(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._lru)

    def variants(self, key: str) -> Sequence[CachedResponse]:
        found = self._by_key.get(key)
        if found:
            move = self._lru.move_to_end
            for entry in found:
                move((key, entry.variant))
            return found
        return ()

    def put(self, entry: CachedResponse) -> bool:
        if entry.size > self.max_object_bytes or entry.size > self.max_bytes:
            return False
        ident = (entry.key, entry.variant)
        old = self._lru.get(ident)
        if old is not None:
            self._drop(old)
        self._lru[ident] = entry
        self._by_key.setdefault(entry.key, []).insert(0, entry)
        self._by_url.setdefault(entry.url, set()).add(ident)
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(ident)
        self._bytes += entry.size
        while self._bytes > self.max_bytes and self._lru:
            _, victim = next(iter(self._lru.items()))
            self._drop(victim)
            if self.on_evict is not None:
                self.on_evict(victim)
        return True

    def remove(self, entry: CachedResponse) -> None:
        if self._lru.get((entry.key, entry.variant)) is entry:
            self._drop(entry)

    def _drop(self, entry: CachedResponse) -> None:
        ident = (entry.key, entry.variant)
        del self._lru[ident]
        siblings = self._by_key.get(entry.key)
        if siblings is not None:
            siblings[:] = [e for e in siblings if e is not entry]
            if not siblings:
                del self._by_key[entry.key]
        _discard(self._by_url, entry.url, ident)
        for tag in entry.tags:
            _discard(self._by_tag, tag, ident)
        self._bytes -= entry.size

    def matching(
        self,
        *,
        urls: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        tags: Iterable[str] = (),
        everything: bool = False,
    ) -> list[CachedResponse]:
        if everything:
            return list(self._lru.values())
        found: dict[tuple[str, Variant], CachedResponse] = {}
        path_urls: set[str] = set()
        for u in urls:
            if u.startswith("/"):
                path_urls.add(u)
            for ident in self._by_url.get(u, ()):
                found[ident] = self._lru[ident]
        for tag in tags:
            for ident in self._by_tag.get(tag, ()):
                found[ident] = self._lru[ident]
        path_prefixes = tuple(p for p in prefixes if p.startswith("/"))
        url_prefixes = tuple(p for p in prefixes if not p.startswith("/"))
        if path_urls or path_prefixes or url_prefixes:
            for ident, entry in self._lru.items():
                if url_prefixes and entry.url.startswith(url_prefixes):
                    found[ident] = entry
                elif path_urls or path_prefixes:
                    target = entry.target
                    if target in path_urls or (path_prefixes and target.startswith(path_prefixes)):
                        found[ident] = entry
        return list(found.values())

    def purge(
        self,
        *,
        urls: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        tags: Iterable[str] = (),
        everything: bool = False,
    ) -> int:
        if everything:
            n = len(self._lru)
            self._lru.clear()
            self._by_key.clear()
            self._by_url.clear()
            self._by_tag.clear()
            self._bytes = 0
            return n
        doomed = self.matching(urls=urls, prefixes=prefixes, tags=tags)
        for entry in doomed:
            self._drop(entry)
        return len(doomed)


def _discard(
    index: dict[str, set[tuple[str, Variant]]], name: str, ident: tuple[str, Variant]
) -> None:
    members = index.get(name)
    if members is not None:
        members.discard(ident)
        if not members:
            del index[name]
