"""The origin request's headers are built on first use, so a cache hit never builds them."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from edgelab.config.cache import CacheConfig
from edgelab.edge.cache import EdgeCache
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.pipeline import Pipeline
from edgelab.edge.responsehead import field_block
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


def stored_response() -> EdgeResponse:
    block = field_block(CIMultiDict([("ETag", '"e"'), ("Via", "1.0 up"), ("Content-Type", "a/b")]))
    assert block is not None
    return EdgeResponse.with_stored(200, block, {"age": ("Age", "1")}, b"body")


def test_a_stored_response_keeps_its_fields_joined_until_headers_are_read_whole() -> None:
    resp = stored_response()
    resp.set_header("X-Edgelab-Ray", "r1")
    resp.set_header("x-edgelab-ray", "r2")  # replaces, whatever the case
    assert resp.has_header("via") and resp.has_header("AGE") and not resp.has_header("X-Other")
    assert resp.stored_fields is not None
    assert list(resp.headers.items()) == [
        ("ETag", '"e"'),
        ("Via", "1.0 up"),
        ("Content-Type", "a/b"),
        ("Age", "1"),
        ("x-edgelab-ray", "r2"),
    ]
    assert resp.stored_fields is None  # merged once, then an ordinary response
    resp.set_header("Age", "2")
    assert resp.headers.getall("Age") == ["2"]


@pytest.mark.parametrize(("name", "why"), [("Via", "stored"), ("Connection", "framing")])
def test_setting_a_stored_or_framing_field_merges_first_so_it_replaces_in_place(
    name: str, why: str
) -> None:
    resp = stored_response()
    resp.set_header(name, "x")
    assert resp.stored_fields is None, why
    assert resp.headers.getall(name) == ["x"]
    assert list(resp.headers)[:3] == ["ETag", "Via", "Content-Type"]


def test_the_same_calls_on_an_ordinary_response_act_on_its_headers() -> None:
    resp = EdgeResponse(200, CIMultiDict([("Via", "1.0 up")]))
    resp.set_header("Via", "x")
    assert resp.has_header("VIA") and resp.headers.getall("Via") == ["x"]
    assert resp.stored_fields is None
