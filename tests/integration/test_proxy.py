"""The edge as a reverse proxy, on real sockets, against real origins."""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from edgelab.edge.server import EdgeServer
from edgelab.origin.server import OriginServer
from tests.conftest import EdgeFactory
from tests.metrics import metric_value

AiohttpServer = Callable[..., Awaitable[TestServer]]


def echo_app(hits: list[str] | None = None) -> web.Application:
    """An origin that answers with what it received, as JSON."""

    async def echo(request: web.Request) -> web.Response:
        if hits is not None:
            hits.append(request.path)
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path": request.raw_path,
                "headers": list(request.headers.items()),
                "body_len": len(body),
                "chunked": "Transfer-Encoding" in request.headers,
            },
            headers={
                "Connection": "keep-alive, X-Internal",
                "X-Internal": "secret",
                "Set-Cookie": "s=1",
            },
        )

    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_forwards_with_proxy_headers(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin = await aiohttp_server(echo_app())
    edge = await make_edge(str(origin.make_url("")), pop="ams")
    async with http.get(
        f"{edge.addresses['proxy']}/a/b?x=1&y=%20z",
        headers={
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "1",
            "X-Edgelab-Attack": "xss",
            "X-Custom": "v",
        },
    ) as r:
        seen = await r.json()
        assert r.headers["Via"] == "1.1 ams (edgelab)"
        assert r.headers["X-Edgelab-Ray"].endswith("-ams")
        assert "X-Internal" not in r.headers
        assert r.headers["Set-Cookie"] == "s=1"
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert seen["path"] == "/a/b?x=1&y=%20z"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == edge.addresses["proxy"].removeprefix("http://")
    assert headers["via"] == "1.1 ams (edgelab)"
    assert headers["x-edgelab-attack"] == "xss"
    assert headers["x-custom"] == "v"
    assert "x-hop" not in headers
    assert "user-agent" in headers  # the client's, not replaced by ours


async def test_unusual_methods_and_bodies_are_forwarded(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    origin = await aiohttp_server(echo_app())
    edge = await make_edge(str(origin.make_url("")))
    async with http.request("PROPFIND", f"{edge.addresses['proxy']}/dav", data=b"x" * 1000) as r:
        seen = await r.json()
    assert seen["method"] == "PROPFIND" and seen["body_len"] == 1000

    async def gen() -> Any:
        for _ in range(10):
            yield b"y" * 100

    async with http.post(f"{edge.addresses['proxy']}/upload", data=gen()) as r:
        seen = await r.json()
    assert seen["body_len"] == 1000 and seen["chunked"]


async def test_content_encoding_passes_untouched(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    payload = gzip.compress(b"hello " * 1000)

    async def gz(_: web.Request) -> web.Response:
        return web.Response(
            body=payload, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"}
        )

    app = web.Application()
    app.router.add_get("/gz", gz)
    origin = await aiohttp_server(app)
    edge = await make_edge(str(origin.make_url("")))
    async with http.get(f"{edge.addresses['proxy']}/gz", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert await r.read() == payload


async def test_streams_a_large_body_with_bounded_memory(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    size = 100 * 1024 * 1024
    block = b"z" * (1024 * 1024)

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = size
        await resp.prepare(request)
        for _ in range(size // len(block)):
            await resp.write(block)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/big", big)
    origin = await aiohttp_server(app)
    edge = await make_edge(str(origin.make_url("")))
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    received = 0
    async with http.get(f"{edge.addresses['proxy']}/big") as r:
        assert r.headers["Content-Length"] == str(size)
        async for chunk in r.content.iter_chunked(256 * 1024):
            received += len(chunk)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib) / 1024
    assert received == size
    assert grown_mib < 40, f"peak RSS grew {grown_mib:.0f} MiB while streaming 100 MiB"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_origin_down_is_502_with_error_page(
    make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    edge = await make_edge(f"http://127.0.0.1:{_free_port()}", pop="fra")
    async with http.get(f"{edge.addresses['proxy']}/page/1") as r:
        assert r.status == 502
        body = await r.text()
        ray = r.headers["X-Edgelab-Ray"]
    assert "fra" in body and ray in body
    metrics = await (await http.get(f"{edge.addresses['admin']}/metrics")).text()
    assert metric_value(metrics, "edgelab_edge_upstream_errors_total", status="502") == 1


async def test_slow_origin_is_504(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", slow)
    origin = await aiohttp_server(app)
    edge = await make_edge(str(origin.make_url("")), upstream={"read_timeout_s": 0.2})
    async with http.get(f"{edge.addresses['proxy']}/slow") as r:
        assert r.status == 504
        assert "X-Edgelab-Ray" in r.headers
    release.set()


async def test_never_retries_on_its_own(
    make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    accepted = 0

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        edge = await make_edge(f"http://127.0.0.1:{port}")
        async with http.post(f"{edge.addresses['proxy']}/api/order", data=b"{}") as r:
            assert r.status == 502
        assert accepted == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_admin_routes_are_not_reachable_through_the_proxy(
    edge: EdgeServer, origin: OriginServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{edge.addresses['proxy']}/config") as r:
        assert r.status == 404  # the origin's answer: the edge has no routes of its own
        assert "X-Edgelab-Ray" in r.headers
    async with http.get(f"{edge.addresses['admin']}/config") as r:
        cfg = await r.json()
    assert cfg["config"]["origin"] == origin.addresses["http"]
    async with http.get(f"{edge.addresses['admin']}/healthz") as r:
        assert (await r.json())["component"] == "edge"


async def test_oversized_and_malformed_requests_get_clean_4xx(edge: EdgeServer) -> None:
    host, port = edge.addresses["proxy"].removeprefix("http://").split(":")

    async def raw(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(data)
        await writer.drain()
        out = await reader.read(4096)
        writer.close()
        return out

    def status(answer: bytes) -> int:
        assert answer.startswith(b"HTTP/1."), answer[:40]
        return int(answer.split(b" ", 2)[1])

    assert (
        status(await raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"))
        == 431  # Request Header Fields Too Large (RFC 6585)
    )
    smuggle = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert status(await raw(smuggle)) == 400
    assert (
        status(await raw(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n")) == 413
    )
    assert status(await raw(b"GET http://169.254.169.254/ HTTP/1.1\r\nHost: x\r\n\r\n")) == 400
    assert (
        status(
            await raw(
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
            )
        )
        == 400
    )


async def test_graceful_shutdown_finishes_in_flight(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        started.set()
        await release.wait()
        return web.Response(text="finished")

    app = web.Application()
    app.router.add_get("/slow", slow)
    origin = await aiohttp_server(app)
    edge = await make_edge(str(origin.make_url("")))
    proxy = edge.addresses["proxy"]

    async def request() -> tuple[int, str]:
        async with http.get(f"{proxy}/slow") as r:
            return r.status, await r.text()

    in_flight = asyncio.create_task(request())
    await started.wait()
    stopping = asyncio.create_task(edge.stop())
    # once the listener is closed, new connections are refused while the old request finishes
    while True:
        try:
            _, w = await asyncio.open_connection(*proxy.removeprefix("http://").split(":"))
            w.close()
            await asyncio.sleep(0.01)
        except OSError:
            break
    release.set()
    assert await in_flight == (200, "finished")
    await stopping


async def test_metrics_count_requests(edge: EdgeServer, http: aiohttp.ClientSession) -> None:
    for _ in range(3):
        async with http.get(f"{edge.addresses['proxy']}/static/a.js") as r:
            await r.read()
    text = await (await http.get(f"{edge.addresses['admin']}/metrics")).text()
    # The first goes to the origin; the cache answers the other two (public, max-age).
    assert metric_value(text, "edgelab_edge_requests_total", status="200", path_taken="origin") == 1
    assert metric_value(text, "edgelab_edge_requests_total", status="200", path_taken="cache") == 2
    assert metric_value(text, "edgelab_edge_cache_requests_total", result="hit") == 2
    # the request-time histogram, kept as plain numbers (metrics.record): one sample a request
    assert metric_value(text, "edgelab_edge_request_seconds_count") == 3
    assert metric_value(text, "edgelab_edge_request_seconds_bucket", le="+Inf") == 3
    assert 0 < metric_value(text, "edgelab_edge_request_seconds_sum") < 60
    assert json.loads(json.dumps(text))  # the exposition is text
    pytest.importorskip("prometheus_client")


async def test_admin_token_guards_state_changing_calls(
    make_edge: EdgeFactory, origin: OriginServer, http: aiohttp.ClientSession
) -> None:
    from edgelab.config.edge import EdgeConfig
    from edgelab.errors import ConfigError

    with pytest.raises(ConfigError, match="admin-token"):
        EdgeServer(EdgeConfig(origin=origin.addresses["http"]), admin_host="0.0.0.0")
    edge = EdgeServer(EdgeConfig(origin=origin.addresses["http"]), admin_token="s3cret")
    from edgelab.testing.servers import running

    async with running(edge):
        admin = edge.addresses["admin"]
        async with http.post(f"{admin}/config") as r:
            assert r.status == 401
        async with http.post(f"{admin}/config", headers={"Authorization": "Bearer s3cret"}) as r:
            assert r.status == 405  # past the guard; /config is read-only
        async with http.get(f"{admin}/config") as r:
            assert r.status == 200


async def test_upstream_pool_reuses_one_connection_and_reports_it(
    edge: EdgeServer, http: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        async with http.get(f"{edge.addresses['proxy']}/api/cart") as r:  # no-store: 3 fetches
            await r.read()
    text = await (await http.get(f"{edge.addresses['admin']}/metrics")).text()
    assert metric_value(text, "edgelab_edge_upstream_connections", state="idle") == 1
    assert metric_value(text, "edgelab_edge_upstream_connections", state="busy") == 0
