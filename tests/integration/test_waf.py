"""The WAF in the real edge, on real sockets: blocks, bodies, pushed config, no client bypass."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from edgelab.edge.artifacts import Artifact, ArtifactOutcome
from tests.conftest import EdgeFactory
from tests.metrics import metric_value

AiohttpServer = Callable[..., Awaitable[TestServer]]
SQLI = "id=1%27%20OR%20%271%27%3D%271"


def recording_origin(seen: list[dict[str, Any]]) -> web.Application:
    """An origin that records what reached it and answers with a digest of the body."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"target": request.raw_path, "len": len(body)})
        return web.json_response({"len": len(body), "sha256": hashlib.sha256(body).hexdigest()})

    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_an_attack_is_blocked_at_the_edge_and_never_reaches_the_origin(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    edge = await make_edge(str(origin.make_url("")))
    proxy = edge.addresses["proxy"]
    async with http.get(f"{proxy}/search?{SQLI}") as r:
        page = await r.text()
        assert r.status == 403
        ray = r.headers["X-Edgelab-Ray"]
    assert "rule 949110" in page and ray in page
    assert seen == []
    async with http.get(f"{proxy}/search?q=O%27Reilly") as r:
        assert r.status == 200
    assert [s["target"].startswith("/search?q=O") for s in seen] == [True]
    async with http.get(f"{edge.addresses['admin']}/metrics") as r:
        text = await r.text()
    assert metric_value(text, "edgelab_waf_rule_matches_total", rule_id="942100") == 1
    assert metric_value(text, "edgelab_waf_requests_total", outcome="block") == 1


async def test_bodies_reach_the_origin_intact_below_and_above_the_inspection_limit(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    edge = await make_edge(str(origin.make_url("")), waf={"inspect_body_bytes": 65536})
    proxy = edge.addresses["proxy"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"comment=" + b"fine+words+" * 100, b"comment=" + b"a" * 300_000):
        async with http.post(f"{proxy}/contact", data=body, headers=form) as r:
            assert r.status == 200
            got = await r.json()
        assert got == {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    attack = b"id=1%27%20OR%20%271%27%3D%271&pad=" + b"a" * 300_000
    async with http.post(f"{proxy}/contact", data=attack, headers=form) as r:
        assert r.status == 403
    assert len(seen) == 2


async def test_nothing_the_client_sends_turns_the_waf_off(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    edge = await make_edge(str(origin.make_url("")), waf={"failure_policy": "panic"})
    proxy = edge.addresses["proxy"]
    tries: list[dict[str, str]] = [
        {"X-Edgelab-Waf": "off"},
        {"X-WAF-Bypass": "1", "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "10.0.0.1"},
        {"Cookie": "waf=off; killswitch=waf"},
        {"X-HTTP-Method-Override": "OPTIONS", "Host": "127.0.0.1"},
        {"Authorization": "Bearer anything"},
        {"Content-Type": "application/octet-stream"},
    ]
    for headers in tries:
        async with http.get(f"{proxy}/search?{SQLI}&waf=off&mode=log", headers=headers) as r:
            assert r.status == 403, headers
    # Admin-looking paths go through the pipeline to the origin, never to the admin API.
    killswitches = json.dumps({"modules": {"waf": True}, "rules": ["100001"]})
    for path in ("/waf/status", "/config", "/artifacts/killswitches"):
        async with http.post(f"{proxy}{path}", data=killswitches) as r:
            assert r.status == 200 and (await r.json())["len"] == len(killswitches)
    async with http.get(f"{edge.addresses['admin']}/waf/status") as r:
        status = await r.json()
    assert status["waf_killed"] is False and status["killed_rules"] == []
    assert status["mode"] == "block" and status["broken"] is None
    async with http.get(f"{proxy}/search?{SQLI}") as r:
        assert r.status == 403
    assert all("id=1" not in s["target"] for s in seen)


async def test_a_killswitch_on_an_execute_rule_under_panic_answers_500(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    edge = await make_edge(str(origin.make_url("")), waf={"failure_policy": "panic"})
    proxy = edge.addresses["proxy"]
    doc = json.dumps({"modules": {"waf": False, "bot": False}, "rules": ["100002"]}).encode()
    outcome = edge.artifacts.apply(Artifact("killswitches", 5, doc))
    assert outcome is ArtifactOutcome.MODULE_FAILED
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 500
        page = await r.text()
    assert re.search(r"[0-9a-f]{16}-pop-1", page)
    async with http.get(f"{edge.addresses['admin']}/metrics") as r:
        assert metric_value(await r.text(), "edgelab_edge_stage_errors_total", stage="waf") == 1
    fixed = json.dumps({"modules": {}, "rules": []}).encode()
    assert edge.artifacts.apply(Artifact("killswitches", 6, fixed)) is ArtifactOutcome.APPLIED
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 200
    assert [s["target"] for s in seen] == ["/page/1"]


async def test_undecodable_header_bytes_are_inspected_not_fatal(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory
) -> None:
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    edge = await make_edge(str(origin.make_url("")), waf={"failure_policy": "panic"})
    host, port = edge.addresses["proxy"].removeprefix("http://").rsplit(":", 1)

    async def raw(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(request)
            await writer.drain()
            return await asyncio.wait_for(reader.readuntil(b"\r\n"), 20)
        finally:
            writer.close()

    ok = await raw(b"GET /page/1 HTTP/1.1\r\nHost: x\r\nX-Junk: \xff\xfe\xc0\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200")
    blocked = await raw(b"GET /page/1 HTTP/1.1\r\nHost: x\r\nUser-Agent: sqlmap/1.7 \xff\r\n\r\n")
    assert blocked.startswith(b"HTTP/1.1 403")
    assert len(seen) == 1


async def test_a_per_site_exclusion_lets_its_value_through_and_nothing_else(
    aiohttp_server: AiohttpServer, make_edge: EdgeFactory, http: aiohttp.ClientSession
) -> None:
    """A forum's post body quotes code: the site excludes it from the XSS rules on its posting
    path. The post reaches the origin through an edge with the exclusion (and is blocked by one
    without); the same payload in another field, or on another path, is still blocked."""
    seen: list[dict[str, Any]] = []
    origin = await aiohttp_server(recording_origin(seen))
    exclusion = {
        "tags": ["xss"],
        "path_prefix": "/community/posts",
        "methods": ["POST"],
        "targets": ["args:body"],
        "note": "posts quote HTML",
    }
    plain = await make_edge(str(origin.make_url("")))
    edge = await make_edge(str(origin.make_url("")), waf={"exclusions": [exclusion]})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    post = b"title=Why+does+this+run&body=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"
    async with http.post(
        f"{plain.addresses['proxy']}/community/posts", data=post, headers=form
    ) as r:
        assert r.status == 403
    proxy = edge.addresses["proxy"]
    async with http.post(f"{proxy}/community/posts", data=post, headers=form) as r:
        assert r.status == 200
        assert (await r.json())["len"] == len(post)
    assert [s["target"] for s in seen] == ["/community/posts"]
    in_title = b"title=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E&body=fine"
    async with http.post(f"{proxy}/community/posts", data=in_title, headers=form) as r:
        assert r.status == 403
    async with http.post(f"{proxy}/contact", data=post, headers=form) as r:
        assert r.status == 403
    assert len(seen) == 1
    async with http.get(f"{edge.addresses['admin']}/waf/status") as r:
        assert (await r.json())["exclusions"] == 1
