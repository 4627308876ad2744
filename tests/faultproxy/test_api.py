"""Every Toxiproxy endpoint over raw HTTP, success and error cases, as Toxiproxy answers them."""

from __future__ import annotations

import json

import aiohttp
import pytest

from edgelab.testing.upstreams import EchoServer, closed_port
from tests.faultproxy.conftest import Api, Connect, round_trip
from tests.metrics import metric_value


async def test_proxy_lifecycle(api: Api, echo: EchoServer) -> None:
    created = await api.proxy("echo", echo.address)
    host, port = created["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and port.isdigit() and port != "0"
    assert created == {
        "name": "echo",
        "listen": created["listen"],
        "upstream": echo.address,
        "enabled": True,
        "toxics": [],
    }
    assert await api.call("GET", "/proxies") == (200, {"echo": created})
    assert await api.call("GET", "/proxies/echo") == (200, created)
    status, body = await api.call("PATCH", "/proxies/echo", {"enabled": False})
    assert (status, body["enabled"], body["listen"]) == (200, False, created["listen"])
    status, body = await api.call("POST", "/proxies/echo", {"enabled": True, "name": "ignored"})
    assert (status, body["name"], body["enabled"]) == (200, "echo", True)
    assert await api.call("DELETE", "/proxies/echo") == (204, None)
    assert await api.call("GET", "/proxies/echo") == (
        404,
        {"error": "proxy not found", "status": 404},
    )


async def test_proxy_create_errors(api: Api, echo: EchoServer) -> None:
    first = await api.proxy("a", echo.address)
    assert await api.call("POST", "/proxies", {"upstream": echo.address}) == (
        400,
        {"error": "missing required field: name", "status": 400},
    )
    assert await api.call("POST", "/proxies", {"name": "b"}) == (
        400,
        {"error": "missing required field: upstream", "status": 400},
    )
    assert await api.call("POST", "/proxies", {"name": "a", "upstream": echo.address}) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    status, body = await api.call("POST", "/proxies", raw=b"{not json")
    assert status == 400 and body["error"].startswith("bad request body")
    status, body = await api.call("POST", "/proxies", raw=b"")
    assert (status, body["error"]) == (400, "bad request body: EOF")
    status, body = await api.call("POST", "/proxies", {"name": 5, "upstream": echo.address})
    assert status == 400 and "cannot unmarshal number" in body["error"]
    status, body = await api.call("POST", "/proxies", [1, 2])
    assert status == 400 and body["error"].startswith("bad request body")
    # Listen address in use: 500 with Go's wording, and the proxy is not kept.
    status, body = await api.call(
        "POST", "/proxies", {"name": "clash", "listen": first["listen"], "upstream": echo.address}
    )
    assert status == 500
    assert body == {
        "error": f"listen tcp {first['listen']}: bind: address already in use",
        "status": 500,
    }
    assert (await api.call("GET", "/proxies/clash"))[0] == 404


async def test_error_body_framing_and_headers(api: Api) -> None:
    async with api.http.get(api.base + "/proxies/nope") as r:
        assert r.status == 404
        assert r.headers["Content-Type"].startswith("text/plain")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Toxiproxy-Request-Id"]
        assert (await r.text()).endswith("\n")
    async with api.http.get(api.base + "/proxies") as r:
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.headers["X-Toxiproxy-Request-Id"]


async def test_browsers_are_refused(api: Api) -> None:
    async with api.http.get(api.base + "/proxies", headers={"User-Agent": "Mozilla/5.0"}) as r:
        assert (r.status, await r.text()) == (403, "User agent not allowed\n")


async def test_unknown_route_and_method(api: Api) -> None:
    assert await api.call("GET", "/nope") == (404, "404 page not found\n")
    assert (await api.call("PUT", "/proxies"))[0] == 405


async def test_version(api: Api) -> None:
    async with api.http.get(api.base + "/version") as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json;charset=utf-8"
        text = await r.text()
    assert text.endswith("\n") and json.loads(text)["version"].count(".") == 2


async def test_update_changes_upstream_and_listen(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    await api.proxy("p", f"127.0.0.1:{closed_port()}")
    status, body = await api.call("POST", "/proxies/p", {"upstream": echo.address})
    assert (status, body["upstream"]) == (200, echo.address)
    status, body = await api.call("PATCH", "/proxies/p", {"listen": "localhost:0"})
    assert status == 200 and body["listen"].startswith("127.0.0.1:")
    assert (await api.call("PATCH", "/proxies/p", raw=b"["))[0] == 400
    assert (await api.call("PATCH", "/proxies/nope", {"enabled": True}))[0] == 404
    status, body = await api.call("PATCH", "/proxies/p", {"listen": "no-port"})
    assert status == 500 and "missing port" in body["error"]


async def test_toxic_lifecycle(api: Api, echo: EchoServer) -> None:
    await api.proxy("p", echo.address)
    toxic = await api.toxic("p", type="latency", attributes={"latency": 10})
    assert toxic == {
        "attributes": {"latency": 10, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    up = await api.toxic("p", type="limit_data", stream="Upstream", name="cap", toxicity=0.5)
    assert (up["stream"], up["attributes"], up["toxicity"]) == ("Upstream", {"bytes": 0}, 0.5)
    status, listed = await api.call("GET", "/proxies/p/toxics")
    assert status == 200 and [t["name"] for t in listed] == ["cap", "latency_downstream"]
    assert (await api.call("GET", "/proxies/p"))[1]["toxics"] == listed
    assert await api.call("GET", "/proxies/p/toxics/cap") == (200, up)
    # Update merges attributes; toxicity unchanged unless given; name/type/stream ignored.
    status, body = await api.call(
        "POST", "/proxies/p/toxics/latency_downstream", {"attributes": {"jitter": 5}, "type": "x"}
    )
    assert (status, body["attributes"], body["type"]) == (
        200,
        {"latency": 10, "jitter": 5},
        "latency",
    )
    status, body = await api.call("PATCH", "/proxies/p/toxics/cap", {"toxicity": 0.25})
    assert (body["toxicity"], body["attributes"]) == (0.25, {"bytes": 0})
    assert await api.call("DELETE", "/proxies/p/toxics/cap") == (204, None)
    assert await api.call("GET", "/proxies/p/toxics/cap") == (
        404,
        {"error": "toxic not found", "status": 404},
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "nope"}, 400, "invalid toxic type"),
        ({}, 400, "invalid toxic type"),
        ({"type": "latency"}, 409, "toxic already exists"),
        ({"type": "latency", "stream": "upstream", "attributes": {"latency": "slow"}}, 400, None),
        ({"type": "latency", "stream": "upstream", "attributes": {"latency": 1.5}}, 400, None),
        ({"type": "bandwidth", "toxicity": "high"}, 400, None),
        ({"type": "bandwidth", "attributes": []}, 400, None),
    ],
)
async def test_toxic_create_errors(
    api: Api, echo: EchoServer, body: dict[str, object], status: int, error: str | None
) -> None:
    await api.proxy("p", echo.address)
    await api.toxic("p", type="latency")
    got_status, got = await api.call("POST", "/proxies/p/toxics", body)
    assert got_status == status
    assert got["status"] == status
    if error is not None:
        assert got["error"] == error
    else:
        assert got["error"].startswith("bad request body: ")
    assert len((await api.call("GET", "/proxies/p/toxics"))[1]) == 1


async def test_toxic_errors_on_missing_proxy_and_bad_update(api: Api, echo: EchoServer) -> None:
    for method, path in [
        ("GET", "/proxies/x/toxics"),
        ("POST", "/proxies/x/toxics"),
        ("GET", "/proxies/x/toxics/t"),
        ("PATCH", "/proxies/x/toxics/t"),
        ("DELETE", "/proxies/x/toxics/t"),
        ("DELETE", "/proxies/x"),
    ]:
        assert await api.call(method, path, {}) == (
            404,
            {"error": "proxy not found", "status": 404},
        )
    await api.proxy("p", echo.address)
    for method in ("PATCH", "DELETE"):
        assert (await api.call(method, "/proxies/p/toxics/t", {}))[0] == 404
    await api.toxic("p", type="slicer", attributes={"average_size": 10})
    status, body = await api.call(
        "PATCH", "/proxies/p/toxics/slicer_downstream", {"attributes": {"delay": "x"}}
    )
    assert status == 400 and body["error"].startswith("bad request body")
    assert (await api.call("GET", "/proxies/p/toxics/slicer_downstream"))[1]["attributes"] == {
        "average_size": 10,
        "size_variation": 0,
        "delay": 0,
    }


async def test_every_toxic_type_is_creatable_with_its_attributes(
    api: Api, echo: EchoServer
) -> None:
    await api.proxy("p", echo.address)
    expected = {
        "noop": {},
        "latency": {"latency": 0, "jitter": 0},
        "bandwidth": {"rate": 0},
        "slow_close": {"delay": 0},
        "timeout": {"timeout": 0},
        "reset_peer": {"timeout": 0},
        "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
        "limit_data": {"bytes": 0},
        "packet_loss": {"loss_rate": 0.1, "correlation": 0.0},
    }
    for type_, attrs in expected.items():
        toxic = await api.toxic("p", type=type_, name=type_, attributes={"unknown": 1})
        assert toxic["attributes"] == attrs


async def test_populate(api: Api, echo: EchoServer, connect: Connect) -> None:
    entries = [
        {"name": "one", "listen": "127.0.0.1:0", "upstream": echo.address},
        {"name": "two", "listen": "127.0.0.1:0", "upstream": echo.address, "enabled": False},
    ]
    status, body = await api.call("POST", "/populate", entries)
    assert status == 201
    assert [(p["name"], p["enabled"]) for p in body["proxies"]] == [("one", True), ("two", False)]
    assert body["proxies"][1]["listen"] == "127.0.0.1:0"  # kept as given until started
    one = body["proxies"][0]
    # The same name, listen and upstream: left alone, toxics kept.
    await api.toxic("one", type="latency")
    same = [{"name": "one", "listen": one["listen"], "upstream": echo.address}]
    status, body = await api.call("POST", "/populate", same)
    assert status == 201 and len(body["proxies"][0]["toxics"]) == 1
    # A different upstream: replaced, toxics gone.
    other = [{"name": "one", "listen": one["listen"], "upstream": f"127.0.0.1:{closed_port()}"}]
    status, body = await api.call("POST", "/populate", other)
    assert status == 201 and body["proxies"][0]["toxics"] == []
    assert await api.call("POST", "/populate", []) == (201, {"proxies": None})
    assert await api.call("POST", "/populate", raw=b"null") == (201, {"proxies": None})


async def test_populate_errors(api: Api, echo: EchoServer) -> None:
    bad = [{"name": "ok", "upstream": echo.address}, {"upstream": echo.address}]
    assert await api.call("POST", "/populate", bad) == (
        400,
        {"error": "missing required field: name at proxy 2", "status": 400, "proxies": None},
    )
    assert (await api.call("GET", "/proxies"))[1] == {}  # nothing created on a 400
    status, body = await api.call("POST", "/populate", {"name": "x"})
    assert status == 400 and body["error"].startswith("bad request body")
    first = await api.proxy("first", echo.address)
    clash = [
        {"name": "fine", "listen": "127.0.0.1:0", "upstream": echo.address},
        {"name": "clash", "listen": first["listen"], "upstream": echo.address},
        {"name": "never", "listen": "127.0.0.1:0", "upstream": echo.address},
    ]
    async with api.http.post(api.base + "/populate", json=clash) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        status, body = r.status, await r.json()
    assert status == 500 and "address already in use" in body["error"]
    assert [p["name"] for p in body["proxies"]] == ["fine"]
    assert sorted((await api.call("GET", "/proxies"))[1]) == ["fine", "first"]


async def test_reset_enables_proxies_and_removes_toxics(api: Api, echo: EchoServer) -> None:
    await api.proxy("p", echo.address)
    await api.toxic("p", type="latency")
    await api.call("PATCH", "/proxies/p", {"enabled": False})
    assert await api.call("POST", "/reset") == (204, None)
    status, body = await api.call("GET", "/proxies/p")
    assert (body["enabled"], body["toxics"]) == (True, [])


async def test_metrics_per_proxy(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("m", echo.address)
    await api.toxic("m", type="latency", name="lag")
    conn = await connect(proxy["listen"])
    await round_trip(conn, b"x" * 1000)
    async with api.http.get(api.base + "/metrics") as r:
        text = await r.text()
    labels = {"proxy": "m"}
    assert (
        metric_value(text, "toxiproxy_proxy_received_bytes_total", direction="upstream", **labels)
        == 1000
    )
    assert (
        metric_value(text, "toxiproxy_proxy_sent_bytes_total", direction="downstream", **labels)
        == 1000
    )
    assert metric_value(text, "edgelab_faultproxy_connections_total", **labels) == 1
    assert metric_value(text, "edgelab_faultproxy_connections_active", **labels) == 1
    assert (
        metric_value(text, "edgelab_faultproxy_toxic_active", toxic="lag", type="latency", **labels)
        == 1
    )
    async with api.http.get(api.base + "/healthz") as r:
        assert r.status == 200


async def test_api_is_not_reachable_through_a_proxy(api: Api, http: aiohttp.ClientSession) -> None:
    """A proxy forwards bytes to its upstream only; nothing it carries reaches the API."""
    api_port = api.base.rsplit(":", 1)[1]
    other = f"127.0.0.1:{closed_port()}"
    proxy = await api.proxy("p", other)
    assert proxy["listen"].rsplit(":", 1)[1] != api_port
    with pytest.raises(aiohttp.ClientError):
        async with http.post(
            f"http://{proxy['listen']}/reset", timeout=aiohttp.ClientTimeout(total=10)
        ):
            pass
    assert (await api.call("GET", "/proxies/p"))[0] == 200


async def test_bad_input_everywhere_leaves_the_server_and_proxies_working(
    api: Api, echo: EchoServer, connect: Connect
) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="latency", name="t")
    conn = await connect(proxy["listen"])
    bodies: list[bytes] = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"7",
        b'"x"',
        b'{"a":',
        b"\xff\xfe",
        b'{"enabled": "yes"}',
    ]
    paths = [
        ("POST", "/proxies"),
        ("POST", "/populate"),
        ("POST", "/proxies/p"),
        ("PATCH", "/proxies/p"),
        ("POST", "/proxies/p/toxics"),
        ("POST", "/proxies/p/toxics/t"),
        ("PATCH", "/proxies/p/toxics/t"),
    ]
    for method, path in paths:
        for body in bodies:
            status, answer = await api.call(method, path, raw=body)
            assert status < 500, (method, path, body, answer)
            if status >= 400:
                assert answer["status"] == status and answer["error"], (method, path, body)
    await round_trip(conn)
    status, state = await api.call("GET", "/proxies/p")
    assert status == 200 and state["enabled"] is True and state["toxics"][0]["name"] == "t"
