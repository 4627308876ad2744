"""The edge cache through real sockets: client -> edge -> scripted origin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from edgelab.edge.server import EdgeServer
from edgelab.edge.stages.cache import CacheStage
from edgelab.origin.profile import OriginProfile
from edgelab.origin.server import OriginServer
from edgelab.testing.origins import ScriptedOrigin
from tests.conftest import EdgeFactory, OriginFactory
from tests.metrics import metric_value

AiohttpServer = Callable[..., Awaitable[TestServer]]
Setup = tuple[ScriptedOrigin, TestServer]

CACHEABLE = {"Cache-Control": "public, max-age=60", "ETag": '"v1"'}


@pytest.fixture
async def scripted(aiohttp_server: AiohttpServer) -> Setup:
    origin = ScriptedOrigin()
    return origin, await aiohttp_server(origin.app())


async def get(
    http: aiohttp.ClientSession, edge: EdgeServer, path: str, **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(f"{edge.addresses['proxy']}{path}", headers=headers) as r:
        return r.status, CIMultiDict(r.headers), await r.read()


async def metrics(http: aiohttp.ClientSession, edge: EdgeServer) -> str:
    async with http.get(f"{edge.addresses['admin']}/metrics") as r:
        return await r.text()


async def test_miss_then_hit_with_age_and_cache_status(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/a.js", b"x" * 1024, CACHEABLE)
    edge = await make_edge(str(server.make_url("")), pop="ams")
    status, h1, body1 = await get(http, edge, "/a.js?v=1")
    assert (status, h1["X-Cache"], body1) == (200, "MISS", b"x" * 1024)
    assert h1["Cache-Status"].startswith("ams; fwd=uri-miss; fwd-status=200; ttl=")
    assert h1["Cache-Status"].endswith("; stored")
    status, h2, body2 = await get(http, edge, "/a.js?v=1")
    assert (status, h2["X-Cache"], body2) == (200, "HIT", body1)
    assert h2["Cache-Status"].startswith("ams; hit; ttl=")
    assert int(h2["Age"]) >= 0 and h2["ETag"] == '"v1"'
    assert h2["Via"] == "1.1 ams (edgelab)" and h2["X-Edgelab-Ray"].endswith("-ams")
    assert origin.hits["/a.js"] == 1
    status, h3, _ = await get(http, edge, "/a.js?v=2")  # another query is another object
    assert h3["X-Cache"] == "MISS" and origin.hits["/a.js"] == 2
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_requests_total", result="hit") == 1
    assert metric_value(text, "edgelab_edge_cache_requests_total", result="miss") == 2
    assert metric_value(text, "edgelab_edge_cache_stores_total") == 2
    assert metric_value(text, "edgelab_edge_cache_objects") == 2
    assert metric_value(text, "edgelab_edge_cache_bytes") > 2048


async def test_uncacheable_responses_are_not_stored(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/private", b"p", {"Cache-Control": "private, max-age=60"})
    origin.reply("/cookie", b"c", {"Cache-Control": "max-age=60", "Set-Cookie": "s=1"})
    origin.reply("/nostore", b"n", {"Cache-Control": "no-store"})
    edge = await make_edge(str(server.make_url("")))
    for path, reason in (
        ("/private", "private"),
        ("/cookie", "set-cookie"),
        ("/nostore", "no-store"),
    ):
        for _ in range(2):
            _, h, _ = await get(http, edge, path)
            assert h["X-Cache"] == "MISS"
            assert f"stored=?0; detail={reason}" in h["Cache-Status"]
        assert origin.hits[path] == 2
    _, h, _ = await get(http, edge, "/cookie")
    assert h["Set-Cookie"] == "s=1"
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_not_stored_total", reason="private") == 2


async def test_set_cookie_strip_stores_without_the_cookie(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/c", b"c", {"Cache-Control": "max-age=60", "Set-Cookie": "s=1"})
    edge = await make_edge(str(server.make_url("")), cache={"set_cookie": "strip"})
    _, first, _ = await get(http, edge, "/c")
    _, second, _ = await get(http, edge, "/c")
    assert first["Set-Cookie"] == "s=1" and first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT" and "Set-Cookie" not in second


async def test_200_concurrent_misses_send_one_origin_request(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/hot", b"h" * 4096, CACHEABLE)
    origin.hold("/hot")
    edge = await make_edge(str(server.make_url("")), cache={"coalesce_wait_s": 120})
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as many:
        tasks = [asyncio.create_task(get(many, edge, "/hot")) for _ in range(200)]
        await until(lambda: edge_cache_waiting(edge) == 199, "199 requests queued behind one")
        origin.open("/hot")
        results = await asyncio.gather(*tasks)
    assert origin.hits["/hot"] == 1
    assert all(status == 200 and body == b"h" * 4096 for status, _, body in results)
    collapsed = [h for _, h, _ in results if "collapsed" in h["Cache-Status"]]
    assert len(collapsed) == 199 and all(h["X-Cache"] == "HIT" for h in collapsed)
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_coalesced_total", outcome="served") == 199


async def test_waiters_are_released_at_once_when_the_answer_is_uncacheable(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/dyn", b"d", {"Cache-Control": "private"})
    origin.hold("/dyn")
    edge = await make_edge(str(server.make_url("")), cache={"coalesce_wait_s": 120})
    tasks = [asyncio.create_task(get(http, edge, "/dyn")) for _ in range(5)]
    await until(lambda: origin.hits["/dyn"] == 1 and edge_cache_waiting(edge) == 4, "4 waiting")
    origin.open("/dyn")
    results = await asyncio.gather(*tasks)
    assert [s for s, _, _ in results] == [200] * 5
    assert origin.hits["/dyn"] == 5  # each went itself, without waiting out coalesce_wait_s
    assert sum("collapsed=?0" in h["Cache-Status"] for _, h, _ in results) == 4


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Wait for `condition` (polled; the deadline is generous for a loaded machine)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(0.01)


def stage_of(edge: EdgeServer) -> CacheStage:
    stage = next(s for s in edge.pipeline.stages if s.name == "cache")
    assert isinstance(stage, CacheStage)
    return stage


def edge_cache_waiting(edge: EdgeServer) -> int:
    return stage_of(edge).cache.waiting


async def test_purge_by_url_prefix_tag_and_everything(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    for path, tag in (("/s/a", "t1"), ("/s/b", "t2"), ("/p/c", "t2 t3"), ("/p/d", "t4")):
        origin.reply(path, path.encode(), {"Cache-Control": "max-age=60", "Surrogate-Key": tag})
    edge = await make_edge(str(server.make_url("")))
    admin = edge.addresses["admin"]

    async def fill() -> None:
        for p in ("/s/a", "/s/b", "/p/c", "/p/d"):
            await get(http, edge, p)

    async def purge(body: object) -> tuple[int, Any]:
        async with http.post(f"{admin}/cache/purge", json=body) as r:
            return r.status, await r.json()

    await fill()
    _, h, _ = await get(http, edge, "/s/a")
    assert h["X-Cache"] == "HIT" and "Surrogate-Key" not in h
    assert await purge({"urls": ["/s/a"]}) == (200, {"purged": 1})
    assert (await get(http, edge, "/s/a"))[1]["X-Cache"] == "MISS"
    assert (await get(http, edge, "/s/b"))[1]["X-Cache"] == "HIT"
    assert await purge({"prefixes": ["/s/"]}) == (200, {"purged": 2})
    await fill()
    assert await purge({"tags": ["t2"]}) == (200, {"purged": 2})
    assert (await get(http, edge, "/p/c"))[1]["X-Cache"] == "MISS"
    assert (await get(http, edge, "/p/d"))[1]["X-Cache"] == "HIT"
    host_url = f"{edge.addresses['proxy']}/p/d"
    assert await purge({"urls": [host_url]}) == (200, {"purged": 1})
    await fill()
    assert await purge({"all": True}) == (200, {"purged": 4})
    assert (await purge({"urls": "x"}))[0] == 400
    assert (await purge({"bogus": 1}))[0] == 400
    assert (await purge({}))[0] == 400
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_purged_objects_total", by="all") == 4
    async with http.get(f"{admin}/cache/stats") as r:
        assert (await r.json())["objects"] == 0


async def test_purge_needs_the_admin_token_and_is_not_on_the_proxy_port(
    scripted: Setup, http: aiohttp.ClientSession
) -> None:
    from edgelab.config.edge import EdgeConfig
    from edgelab.testing.servers import running

    _, server = scripted
    config = EdgeConfig(origin=str(server.make_url("")))
    async with running(EdgeServer(config, admin_token="s3cret")) as edge:
        async with http.post(f"{edge.addresses['admin']}/cache/purge", json={"all": True}) as r:
            assert r.status == 401
        async with http.post(
            f"{edge.addresses['admin']}/cache/purge",
            json={"all": True},
            headers={"Authorization": "Bearer s3cret"},
        ) as r:
            assert r.status == 200
        async with http.post(f"{edge.addresses['proxy']}/cache/purge", json={"all": True}) as r:
            assert r.status == 404  # the origin's answer: proxied, never the admin API


async def test_serve_stale_when_the_origin_is_down(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/page", b"stale but here", {"Cache-Control": "max-age=0", "ETag": '"p1"'})
    url = str(server.make_url(""))
    strict = await make_edge(url)
    serve_stale = await make_edge(url, cache={"stale_if_error_s": 3600})
    for edge in (strict, serve_stale):
        assert (await get(http, edge, "/page"))[1]["X-Cache"] == "MISS"
    await server.close()
    status, h, body = await get(http, serve_stale, "/page")
    assert (status, h["X-Cache"], body) == (200, "STALE", b"stale but here")
    assert "fwd=stale" in h["Cache-Status"] and "detail=stale-if-error" in h["Cache-Status"]
    status, h, _ = await get(http, strict, "/page")
    assert status == 502 and h["X-Cache"] == "MISS"
    text = await metrics(http, serve_stale)
    assert metric_value(text, "edgelab_edge_cache_stale_served_total", reason="stale-if-error") == 1


async def test_serve_stale_on_origin_5xx_uses_the_origins_own_window(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/p", b"old", {"Cache-Control": "max-age=0, stale-if-error=600"})
    origin.reply("/m", b"old", {"Cache-Control": "max-age=0, must-revalidate", "ETag": '"m"'})
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/p")
    await get(http, edge, "/m")
    origin.reply("/p", b"down", status=503)
    origin.reply("/m", b"down", status=503)
    status, h, body = await get(http, edge, "/p")
    assert (status, h["X-Cache"], body) == (200, "STALE", b"old")
    assert "fwd-status=503" in h["Cache-Status"]
    status, _, body = await get(http, edge, "/m")  # must-revalidate: never stale
    assert (status, body) == (503, b"down")


async def test_stale_while_revalidate_serves_stale_and_refreshes_once(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/swr", b"v1", {"Cache-Control": "max-age=0, stale-while-revalidate=600"})
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/swr")
    origin.reply("/swr", b"v2", {"Cache-Control": "max-age=600"})
    origin.hold("/swr")
    results = [await get(http, edge, "/swr") for _ in range(3)]
    assert [(h["X-Cache"], b) for _, h, b in results] == [("STALE", b"v1")] * 3
    assert "detail=stale-while-revalidate" in results[0][1]["Cache-Status"]
    origin.open("/swr")
    for _ in range(3000):  # the one background refresh lands (a condition, with a deadline)
        _, h, body = await get(http, edge, "/swr")
        if h["X-Cache"] == "HIT":
            break
        await asyncio.sleep(0.01)
    assert (h["X-Cache"], body) == ("HIT", b"v2")
    assert origin.hits["/swr"] == 2  # one fill, one refresh for all the stale answers


async def test_revalidation_with_304_refreshes_the_stored_response(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/r", b"body", {"Cache-Control": "max-age=0", "ETag": '"e1"', "X-V": "1"})
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/r")
    origin.reply("/r", b"body", {"Cache-Control": "max-age=60", "ETag": '"e1"', "X-V": "2"})
    status, h, body = await get(http, edge, "/r", **{"If-None-Match": '"client"'})
    assert (status, h["X-Cache"], body) == (200, "REVALIDATED", b"body")
    assert h["X-V"] == "2" and "fwd=stale; fwd-status=304" in h["Cache-Status"]
    sent = origin.requests[-1].headers
    assert sent["If-None-Match"] == '"e1"'  # our validator, not the client's
    status, h, _ = await get(http, edge, "/r")
    assert (status, h["X-Cache"]) == (200, "HIT")  # max-age=60 from the 304 now applies
    status, h, body = await get(http, edge, "/r", **{"If-None-Match": '"e1"'})
    assert (status, body, h["ETag"]) == (304, b"", '"e1"')
    assert origin.hits["/r"] == 2


async def test_request_directives_no_cache_and_only_if_cached(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/d", b"d", CACHEABLE)
    edge = await make_edge(str(server.make_url("")))
    status, h, _ = await get(http, edge, "/d", **{"Cache-Control": "only-if-cached"})
    assert status == 504 and origin.hits["/d"] == 0
    await get(http, edge, "/d")
    _, h, _ = await get(http, edge, "/d", **{"Cache-Control": "no-cache"})
    assert h["X-Cache"] == "REVALIDATED" and "fwd=request" in h["Cache-Status"]
    _, h, _ = await get(http, edge, "/d", **{"Cache-Control": "only-if-cached"})
    assert h["X-Cache"] == "HIT" and origin.hits["/d"] == 2


async def test_vary_keeps_one_object_per_variant(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/v", b"v", {"Cache-Control": "max-age=60", "Vary": "Accept-Language"})
    origin.reply("/star", b"s", {"Cache-Control": "max-age=60", "Vary": "*"})
    edge = await make_edge(str(server.make_url("")))
    assert (await get(http, edge, "/v", **{"Accept-Language": "en"}))[1]["X-Cache"] == "MISS"
    _, h, _ = await get(http, edge, "/v", **{"Accept-Language": "de"})
    assert h["X-Cache"] == "MISS" and "fwd=vary-miss" in h["Cache-Status"]
    assert (await get(http, edge, "/v", **{"Accept-Language": "en"}))[1]["X-Cache"] == "HIT"
    assert (await get(http, edge, "/v", **{"Accept-Language": "de"}))[1]["X-Cache"] == "HIT"
    for _ in range(2):
        assert (await get(http, edge, "/star"))[1]["X-Cache"] == "MISS"


async def test_range_requests_are_served_from_the_stored_response(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    body = bytes(range(256)) * 4
    origin.reply("/bin", body, CACHEABLE)
    edge = await make_edge(str(server.make_url("")))
    status, h, part = await get(http, edge, "/bin", Range="bytes=10-19")
    assert (status, part, h["Content-Range"]) == (206, body[10:20], "bytes 10-19/1024")
    assert "Range" not in origin.requests[-1].headers  # the whole object was fetched
    status, h, part = await get(http, edge, "/bin", Range="bytes=-4")
    assert (status, part, h["X-Cache"]) == (206, body[-4:], "HIT")
    status, h, _ = await get(http, edge, "/bin", Range="bytes=5000-")
    assert (status, h.get("Content-Range")) == (416, "bytes */1024"), h
    status, _, whole = await get(http, edge, "/bin", Range="bytes=0-1,5-6")
    assert (status, whole) == (200, body)  # several ranges: the whole representation
    status, _, whole = await get(http, edge, "/bin", Range="bytes=0-1", **{"If-Range": '"old"'})
    assert (status, whole) == (200, body)
    assert origin.hits["/bin"] == 1


async def test_head_is_answered_from_a_stored_get(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/h", b"z" * 100, CACHEABLE)
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/h")
    async with http.head(f"{edge.addresses['proxy']}/h") as r:
        assert r.status == 200 and r.headers["X-Cache"] == "HIT"
        assert r.headers["Content-Length"] == "100" and await r.read() == b""
    assert origin.hits["/h"] == 1


async def test_unsafe_methods_invalidate_and_bypass(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/cart", b"cart", CACHEABLE)
    origin.reply("/cart/7", b"item", CACHEABLE)
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/cart")
    await get(http, edge, "/cart/7")
    origin.replies["/cart"].headers = {**CACHEABLE, "Location": "/cart/7"}
    async with http.post(f"{edge.addresses['proxy']}/cart", data=b"add") as r:
        assert r.headers["X-Cache"] == "BYPASS" and "fwd=method" in r.headers["Cache-Status"]
    assert (await get(http, edge, "/cart"))[1]["X-Cache"] == "MISS"
    assert (await get(http, edge, "/cart/7"))[1]["X-Cache"] == "MISS"


async def test_objects_over_the_cap_stream_through_uncached(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/big", b"b" * 50_000, CACHEABLE)
    edge = await make_edge(str(server.make_url("")), cache={"max_object_bytes": 10_000})
    for _ in range(2):
        status, h, body = await get(http, edge, "/big")
        assert (status, len(body), h["X-Cache"]) == (200, 50_000, "MISS")
        assert "detail=too-large" in h["Cache-Status"]


async def test_lru_eviction_keeps_the_store_within_max_bytes(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    for i in range(10):
        origin.reply(f"/o{i}", b"o" * 1000, {"Cache-Control": "max-age=60"})
    edge = await make_edge(str(server.make_url("")), cache={"max_bytes": 5000})
    for i in range(10):
        await get(http, edge, f"/o{i}")
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_bytes") <= 5000
    assert metric_value(text, "edgelab_edge_cache_evictions_total") >= 5
    assert (await get(http, edge, "/o9"))[1]["X-Cache"] == "HIT"
    assert (await get(http, edge, "/o0"))[1]["X-Cache"] == "MISS"


@pytest.mark.parametrize("serve_stale", [False, True])
async def test_a_module_panic_is_answered_from_cache_only_with_serve_stale(
    serve_stale: bool,
    make_origin: OriginFactory,
    make_edge: EdgeFactory,
    http: aiohttp.ClientSession,
) -> None:
    origin: OriginServer = await make_origin(
        OriginProfile.model_validate(
            {"seed": 1, "capacity": {"service_time": {"distribution": "fixed", "mean_ms": 0}}}
        )
    )
    cache = {"stale_if_error_s": 3600} if serve_stale else {}
    edge = await make_edge(origin.addresses["http"], cache=cache, pop="fra")
    assert (await get(http, edge, "/static/app.js"))[1]["X-Cache"] == "MISS"
    # A module inside the edge panics on every request (the 2025-11-18 shape): the fault
    # hooks sit between the cache guard and the cache, like the WAF and bot modules.
    async with http.post(f"{edge.addresses['admin']}/faults", json={"kind": "panic"}) as r:
        assert r.status in (200, 201), await r.text()
    status, h, body = await get(http, edge, "/static/app.js")
    assert h["X-Edgelab-Ray"].endswith("-fra")
    if serve_stale:
        assert (status, h["X-Cache"]) == (200, "STALE")
        assert "detail=edge-error" in h["Cache-Status"] and len(body) > 0
    else:
        assert status == 500 and "X-Cache" not in h
    status, _, _ = await get(http, edge, "/page/never-cached")
    assert status == 500  # nothing stored: the panic shows
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_stage_errors_total", stage="faults") == 2
    assert metric_value(text, "edgelab_edge_cache_stale_served_total", reason="edge-error") == (
        1 if serve_stale else 0
    )


async def test_a_pushed_config_turns_serve_stale_on_for_objects_already_stored(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    from edgelab.edge.artifacts import Artifact, ArtifactOutcome

    origin, server = scripted
    origin.reply("/o", b"kept", {"Cache-Control": "max-age=0", "ETag": '"o"'})
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/o")
    origin.reply("/o", b"down", status=503)
    assert (await get(http, edge, "/o"))[0] == 503
    content = b"cache:\n  stale_if_error_s: 3600\n"
    outcome = edge.artifacts.apply(
        Artifact("edge-config", 2, content, Artifact.checksum_of(content))
    )
    assert outcome is ArtifactOutcome.APPLIED and edge.config.cache.stale_if_error_s == 3600
    status, h, body = await get(http, edge, "/o")
    assert (status, h["X-Cache"], body) == (200, "STALE", b"kept")


async def test_a_failed_background_refresh_keeps_the_stale_copy_serving(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/f", b"v1", {"Cache-Control": "max-age=0, stale-while-revalidate=600"})
    edge = await make_edge(str(server.make_url("")))
    await get(http, edge, "/f")
    origin.reply("/f", b"down", status=503)
    assert (await get(http, edge, "/f"))[1]["X-Cache"] == "STALE"
    await until(lambda: origin.hits["/f"] == 2 and not stage_of(edge).cache.refreshing, "refresh")
    status, h, body = await get(http, edge, "/f")
    assert (status, h["X-Cache"], body) == (200, "STALE", b"v1")
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_revalidations_total", outcome="error") >= 1
    assert metric_value(text, "edgelab_edge_cache_stale_served_total", reason="stale-if-error") == 0


async def test_soft_purge_marks_stale_so_serve_stale_still_answers(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/s", b"v1", CACHEABLE)
    origin.reply("/t", b"t1", CACHEABLE)
    edge = await make_edge(str(server.make_url("")), cache={"stale_if_error_s": 600})
    await get(http, edge, "/s")
    await get(http, edge, "/t")
    async with http.post(
        f"{edge.addresses['admin']}/cache/purge", json={"urls": ["/s", "/t"], "soft": True}
    ) as r:
        assert await r.json() == {"purged": 2}
    _, h, body = await get(http, edge, "/s")  # soft-purged: revalidated, not refetched
    assert (h["X-Cache"], body) == ("REVALIDATED", b"v1")
    assert origin.requests[-1].headers["If-None-Match"] == '"v1"'
    origin.reply("/t", b"down", status=503)
    status, h, body = await get(http, edge, "/t")  # still there for serve-stale
    assert (status, h["X-Cache"], body) == (200, "STALE", b"t1")
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_purged_objects_total", by="soft-urls") == 2


async def test_an_upstream_caches_cache_status_stays_in_front(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/u", b"u", {**CACHEABLE, "Cache-Status": "shield; hit"})
    edge = await make_edge(str(server.make_url("")), pop="ams")
    _, miss, _ = await get(http, edge, "/u")
    _, hit, _ = await get(http, edge, "/u")
    assert miss["Cache-Status"].startswith("shield; hit, ams; fwd=uri-miss")
    assert hit["Cache-Status"].startswith("shield; hit, ams; hit; ttl=")


async def test_an_origin_error_does_not_stop_coalescing(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/e", b"busy", status=503)
    edge = await make_edge(str(server.make_url("")), cache={"coalesce_wait_s": 120})
    assert (await get(http, edge, "/e"))[0] == 503
    origin.reply("/e", b"back", CACHEABLE)
    origin.hold("/e")
    tasks = [asyncio.create_task(get(http, edge, "/e")) for _ in range(5)]
    await until(lambda: origin.hits["/e"] == 2 and edge_cache_waiting(edge) == 4, "4 waiting")
    origin.open("/e")
    results = await asyncio.gather(*tasks)
    assert [b for _, _, b in results] == [b"back"] * 5 and origin.hits["/e"] == 2


async def test_via_from_the_origin_gets_our_hop_appended_on_hits(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/via", b"v", {**CACHEABLE, "Via": "1.1 shield"})
    edge = await make_edge(str(server.make_url("")), pop="ams")
    for x_cache in ("MISS", "HIT"):
        _, h, _ = await get(http, edge, "/via")
        assert (h["X-Cache"], h["Via"]) == (x_cache, "1.1 shield, 1.1 ams (edgelab)")


async def test_a_waiter_goes_to_the_origin_itself_after_the_bounded_wait(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/slow", b"s", CACHEABLE)
    origin.hold("/slow")
    edge = await make_edge(str(server.make_url("")), cache={"coalesce_wait_s": 0.2})
    first = asyncio.create_task(get(http, edge, "/slow"))
    await until(lambda: origin.hits["/slow"] == 1, "the first fetch")
    second = asyncio.create_task(get(http, edge, "/slow"))
    await until(lambda: origin.hits["/slow"] == 2, "the waiter giving up and fetching itself")
    origin.open("/slow")
    (s1, h1, _), (s2, h2, _) = await asyncio.gather(first, second)
    assert (s1, s2) == (200, 200)
    assert "collapsed=?0" in h2["Cache-Status"] and "collapsed" not in h1["Cache-Status"]
    text = await metrics(http, edge)
    assert metric_value(text, "edgelab_edge_cache_coalesced_total", outcome="timeout") == 1


async def test_head_misses_are_forwarded_as_head_and_not_stored(
    scripted: Setup, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin, server = scripted
    origin.reply("/hd", b"h" * 10, CACHEABLE)
    edge = await make_edge(str(server.make_url("")))
    for _ in range(2):
        async with http.head(f"{edge.addresses['proxy']}/hd") as r:
            assert r.status == 200 and r.headers["X-Cache"] == "MISS"
    assert [s.method for s in origin.requests] == ["HEAD", "HEAD"]
    assert (await get(http, edge, "/hd"))[1]["X-Cache"] == "MISS"  # the GET fills the cache
