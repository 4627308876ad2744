from __future__ import annotations

from multidict import CIMultiDict

from edgelab.edge.store import CachedResponse, MemoryStore
from edgelab.policy.cache.freshness import Freshness

F = Freshness(lifetime_s=60, initial_age_s=0, response_time=0)


def entry(
    url: str,
    size: int = 100,
    variant: tuple[str | None, ...] = (),
    tags: frozenset[str] = frozenset(),
) -> CachedResponse:
    return CachedResponse(
        key=url,
        url=url,
        status=200,
        headers=CIMultiDict(),
        body=b"x" * size,
        freshness=F,
        vary=("accept",) if variant else (),
        variant=variant,
        tags=tags,
    )


def test_lru_eviction_stays_within_max_bytes_and_reports_victims() -> None:
    evicted: list[str] = []
    store = MemoryStore(
        max_bytes=300, max_object_bytes=1000, on_evict=lambda e: evicted.append(e.url)
    )
    for name in ("a", "b", "c"):
        assert store.put(entry(f"http://h/{name}"))
    store.variants("http://h/a")  # a is now the most recently used
    store.put(entry("http://h/d"))
    assert evicted == ["http://h/b"]
    assert store.bytes_stored == 300 and len(store) == 3


def test_objects_over_the_cap_are_refused() -> None:
    store = MemoryStore(max_bytes=10_000, max_object_bytes=50)
    assert not store.put(entry("http://h/big", size=51))
    assert len(store) == 0 and store.bytes_stored == 0


def test_variants_replace_their_own_kind_only() -> None:
    store = MemoryStore(max_bytes=10_000, max_object_bytes=1000)
    store.put(entry("http://h/v", variant=("en",)))
    store.put(entry("http://h/v", variant=("de",)))
    store.put(entry("http://h/v", size=50, variant=("en",)))
    found = store.variants("http://h/v")
    assert sorted(e.variant for e in found) == [("de",), ("en",)]
    assert store.bytes_stored == 150


def test_purge_by_url_path_prefix_tag_and_everything() -> None:
    store = MemoryStore(max_bytes=10_000, max_object_bytes=1000)
    for url, tags in (
        ("http://a/s/1", {"t1"}),
        ("http://a/s/2?q=1", {"t2"}),
        ("http://b/s/1", {"t2"}),
        ("http://b/p/1", set()),
    ):
        store.put(entry(url, tags=frozenset(tags)))
    assert store.purge(urls=["http://a/s/1"]) == 1
    assert store.purge(urls=["/s/1"]) == 1  # any host
    assert store.purge(tags=["t2"]) == 1
    assert store.purge(prefixes=["http://b/"]) == 1
    assert len(store) == 0
    store.put(entry("http://a/x"))
    assert store.purge(everything=True) == 1 and store.bytes_stored == 0
    assert store.variants("http://a/x") == ()


def test_remove_only_removes_that_object() -> None:
    store = MemoryStore(max_bytes=10_000, max_object_bytes=1000)
    old = entry("http://h/a")
    store.put(old)
    new = entry("http://h/a", size=10)
    store.put(new)
    store.remove(old)  # already replaced: nothing happens
    assert store.variants("http://h/a") == [new]
    store.remove(new)
    assert len(store) == 0 and store.bytes_stored == 0
