from __future__ import annotations

import asyncio

import aiohttp

from edgelab.origin.profile import OriginProfile
from edgelab.origin.server import OriginServer
from tests.conftest import OriginFactory
from tests.metrics import metric_value


def profile(**capacity: object) -> OriginProfile:
    return OriginProfile.model_validate({"seed": 1, "capacity": capacity})


async def test_routes_and_cache_headers(origin: OriginServer, http: aiohttp.ClientSession) -> None:
    base = origin.addresses["http"]
    async with http.get(f"{base}/static/app.js") as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "public, max-age=300"
        assert r.headers["ETag"].startswith('"')
        assert "Last-Modified" in r.headers
        assert len(await r.read()) == 1024
    async with http.get(f"{base}/page/7") as r:
        assert "s-maxage=10" in r.headers["Cache-Control"]
        assert r.headers["Content-Type"].startswith("text/html")
    async with http.get(f"{base}/api/users/1") as r:
        assert r.headers["Cache-Control"] == "private, no-store"
    async with http.get(f"{base}/search", params={"q": "red shoes"}) as r:
        assert r.status == 200
    async with http.post(f"{base}/login", data={"user": "a"}) as r:
        assert r.status == 200


async def test_conditional_get_answers_304(
    origin: OriginServer, http: aiohttp.ClientSession
) -> None:
    base = origin.addresses["http"]
    async with http.get(f"{base}/static/a.css") as r:
        etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
    async with http.get(f"{base}/static/a.css", headers={"If-None-Match": etag}) as r:
        assert r.status == 304
        assert r.headers["ETag"] == etag
        assert await r.read() == b""
    async with http.get(f"{base}/static/a.css", headers={"If-Modified-Since": lm}) as r:
        assert r.status == 304


async def test_body_size_per_route_comes_from_the_profile(
    make_origin: OriginFactory, http: aiohttp.ClientSession
) -> None:
    origin = await make_origin(
        OriginProfile.model_validate({"routes": {"static_bytes": 3 * 1024 * 1024}})
    )
    async with http.get(f"{origin.addresses['http']}/static/big.bin") as r:
        assert len(await r.read()) == 3 * 1024 * 1024


async def test_sheds_with_503_beyond_workers_plus_queue(
    make_origin: OriginFactory, http: aiohttp.ClientSession
) -> None:
    origin = await make_origin(
        profile(
            workers=2,
            queue=3,
            queue_timeout_s=30,
            service_time={"distribution": "fixed", "mean_ms": 400},
        )
    )
    base = origin.addresses["http"]

    async def get() -> tuple[int, str | None]:
        async with http.get(f"{base}/page/1") as r:
            await r.read()
            return r.status, r.headers.get("Retry-After")

    results = await asyncio.gather(*(get() for _ in range(10)))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(200) == 5  # 2 workers + 3 queued
    assert statuses.count(503) == 5
    assert all(ra == "1" for s, ra in results if s == 503)
    body = await (await http.get(f"{base}/metrics")).text()
    assert metric_value(body, "edgelab_origin_shed_total", reason="queue_full") == 5


async def test_queue_timeout_answers_503(
    make_origin: OriginFactory, http: aiohttp.ClientSession
) -> None:
    origin = await make_origin(
        profile(
            workers=1,
            queue=10,
            queue_timeout_s=0.1,
            service_time={"distribution": "fixed", "mean_ms": 600},
        )
    )
    base = origin.addresses["http"]

    async def get() -> int:
        async with http.get(f"{base}/page/1") as r:
            return r.status

    statuses = sorted(await asyncio.gather(*(get() for _ in range(4))))
    assert statuses == [200, 503, 503, 503]
    body = await (await http.get(f"{base}/metrics")).text()
    assert metric_value(body, "edgelab_origin_shed_total", reason="queue_timeout") == 3


async def test_counts_attack_marker(origin: OriginServer, http: aiohttp.ClientSession) -> None:
    base = origin.addresses["http"]
    for _ in range(3):
        async with http.get(
            f"{base}/search?q=1' OR '1'='1", headers={"X-Edgelab-Attack": "sqli"}
        ) as r:
            await r.read()
    async with http.get(f"{base}/search?q=shoes") as r:
        await r.read()
    body = await (await http.get(f"{base}/metrics")).text()
    assert metric_value(body, "edgelab_origin_attack_requests_total", route="search") == 3
    assert metric_value(body, "edgelab_origin_requests_total", route="search", status="200") == 4


async def test_dependency_down_fails_dynamic_routes_only(
    origin: OriginServer, http: aiohttp.ClientSession
) -> None:
    base, admin = origin.addresses["http"], origin.addresses["admin"]
    async with http.post(f"{base}/dependency", json={"state": "down"}) as r:
        assert r.status == 404  # the switch is on the admin port only
    async with http.post(f"{admin}/dependency", json={"state": "sideways"}) as r:
        assert r.status == 400
    async with http.post(f"{admin}/dependency", json={"state": "down"}) as r:
        assert r.status == 200
    async with http.get(f"{base}/api/cart") as r:
        assert r.status == 500
        assert "dependency db unreachable" in await r.text()
    async with http.get(f"{base}/static/app.js") as r:
        assert r.status == 200
    body = await (await http.get(f"{admin}/metrics")).text()
    assert metric_value(body, "edgelab_origin_dependency_failures_total", dependency="db") == 1
    async with http.post(f"{admin}/dependency", json={"state": "ok"}) as r:
        assert r.status == 200
    async with http.get(f"{base}/api/cart") as r:
        assert r.status == 200
