"""The origin request's headers are built on first use, so a cache hit never builds them."""

from __future__ import annotations

from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from edgelab.config.cache import CacheConfig
from edgelab.edge.cache import EdgeCache
from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.edge.pipeline import Pipeline
from edgelab.edge.stages.cache import CacheStage
from edgelab.edge.stages.headers import HeadersStage
from tests.edge.stages.test_cache import CannedOrigin


def exchange(path: str = "/a") -> Exchange:
    headers = CIMultiDict([("Host", "www.example"), ("Accept", "*/*"), ("Connection", "close")])
    return Exchange(
        ClientRequest("GET", path, "", headers, "203.0.113.1", host="www.example"), pop="p"
    )


def test_without_a_builder_the_origin_gets_a_copy_of_the_client_headers() -> None:
    ex = exchange()
    up = ex.origin_headers()
    assert up == ex.request.headers and up is not ex.request.headers
    assert ex.origin_headers() is up  # built once


async def test_headers_set_before_the_build_are_applied_over_the_built_ones() -> None:
    ex = exchange()
    HeadersStage("pop-1").request(ex)
    ex.set_upstream_header("X-Edgelab-Bot-Score", "12")
    ex.set_upstream_header("Accept", "text/html")
    assert ex.upstream_headers is None
    up = ex.origin_headers()
    assert up["X-Edgelab-Bot-Score"] == "12" and up.getall("Accept") == ["text/html"]
    assert up["X-Forwarded-For"] == "203.0.113.1" and "Connection" not in up
    ex.set_upstream_header("X-Later", "1")  # once built, set directly
    assert ex.origin_headers()["X-Later"] == "1"


async def test_a_miss_builds_the_forwarded_headers_and_a_hit_builds_none() -> None:
    origin = CannedOrigin({"Cache-Control": "max-age=60"})
    cfg = CacheConfig()
    cache = CacheStage(cfg, "pop-t", origin, EdgeCache(cfg, CollectorRegistry()))
    pipeline = Pipeline([HeadersStage("pop-t"), cache, origin])
    miss, hit = exchange(), exchange()
    await pipeline.run(miss)
    await pipeline.run(hit)
    assert miss.notes["cache_status"] == "MISS" and hit.notes["cache_status"] == "HIT"
    [sent] = origin.sent
    assert sent["Via"] == "1.1 pop-t (edgelab)" and sent["X-Forwarded-Host"] == "www.example"
    assert hit.upstream_headers is None
