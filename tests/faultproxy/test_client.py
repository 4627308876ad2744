"""The real toxiproxy-python client against our server, directly and through client.py.

toxiproxy-python blocks (requests), and our server runs on the test's event loop, so every
client call runs in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from edgelab.faultproxy.client import FaultProxyClient, ToxiproxyError
from edgelab.faultproxy.server import FaultProxyServer
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Connect, at_least, read_to_eof, round_trip


def toxiproxy_python_session(api: str, upstream: str) -> dict[str, Any]:
    """A typical toxiproxy-python script, run as written against `api`."""
    host, port = api.removeprefix("http://").rsplit(":", 1)
    server = Toxiproxy()
    server.update_api_consumer(host, int(port))
    assert server.running()
    assert b"version" in server.version()
    proxy = server.create(upstream=upstream, name="py")
    try:
        server.create(upstream=upstream, name="py")
        raise AssertionError("duplicate accepted")
    except ProxyExists:
        pass
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.add_toxic(
        type="bandwidth", stream="upstream", name="bw", toxicity=0.5, attributes={"rate": 10}
    )
    toxics = proxy.toxics()
    try:
        proxy.add_toxic(type="nope")
        raise AssertionError("unknown toxic accepted")
    except InvalidToxic:
        pass
    with proxy.down():
        disabled = server.get_proxy("py").enabled
    destroyed = proxy.destroy_toxic("bw")
    try:
        proxy.destroy_toxic("bw")
        missing = False
    except NotFound:
        missing = True
    populated = server.populate([{"name": "pop", "upstream": upstream, "listen": "127.0.0.1:0"}])
    return {
        "listen": proxy.listen,
        "toxics": {
            name: (t.type, t.stream, t.toxicity, t.attributes) for name, t in toxics.items()
        },
        "disabled": disabled,
        "enabled_after": server.get_proxy("py").enabled,
        "destroyed": destroyed,
        "missing": missing,
        "populated": [p.name for p in populated],
        "reset": server.reset(),
        "names": sorted(server.proxies()),
        "after_reset": server.get_proxy("py").toxics(),
        "destroy_all": server.destroy_all(),
        "left": server.proxies(),
    }


async def test_toxiproxy_python_works_unchanged(server: FaultProxyServer, echo: EchoServer) -> None:
    result = await asyncio.to_thread(
        toxiproxy_python_session, server.addresses["api"], echo.address
    )
    assert result["listen"].startswith("127.0.0.1:") and not result["listen"].endswith(":0")
    assert result["toxics"] == {
        "latency_downstream": ("latency", "downstream", 1.0, {"latency": 100, "jitter": 0}),
        "bw": ("bandwidth", "upstream", 0.5, {"rate": 10}),
    }
    assert (result["disabled"], result["enabled_after"]) == (False, True)
    assert (result["destroyed"], result["missing"]) == (True, True)
    assert result["populated"] == ["pop"]
    assert result["reset"] is True and result["names"] == ["pop", "py"]
    assert result["after_reset"] == {} and result["left"] == {}


async def test_client_layer(server: FaultProxyServer, echo: EchoServer, connect: Connect) -> None:
    client = FaultProxyClient(server.addresses["api"])
    run = asyncio.to_thread

    proxy = await run(client.ensure_proxy, "origin", "127.0.0.1:0", echo.address)
    again = await run(client.ensure_proxy, "origin", "127.0.0.1:0", echo.address)
    assert again["listen"] == proxy["listen"]  # kept, not re-created
    conn = await connect(proxy["listen"])
    await round_trip(conn)

    toxic = await run(
        client.add_toxic, "origin", "latency", name="slow", attributes={"latency": 120}
    )
    assert toxic["attributes"] == {"latency": 120, "jitter": 0}
    assert await round_trip(conn) >= at_least(0.12)
    updated = await run(
        client.update_toxic, "origin", "slow", attributes={"jitter": 10}, toxicity=0.9
    )
    assert (updated["attributes"], updated["toxicity"]) == (
        {"latency": 120, "jitter": 10},
        pytest.approx(0.9),
    )
    assert list(await run(client.toxics, "origin")) == ["slow"]
    await run(client.remove_toxic, "origin", "slow")
    assert await run(client.toxics, "origin") == {}

    await run(client.disable, "origin")
    reader, _ = conn
    try:
        assert await read_to_eof(reader) == b""
    except ConnectionResetError:
        pass
    assert (await run(client.proxy, "origin"))["enabled"] is False
    await run(client.enable, "origin")
    await round_trip(await connect(proxy["listen"]))

    await run(client.add_toxic, "origin", "timeout", stream="upstream")
    await run(client.reset)
    assert (await run(client.proxy, "origin"))["toxics"] == []
    assert "2." in await run(client.version)

    # A different upstream replaces the proxy.
    moved = await run(client.ensure_proxy, "origin", proxy["listen"], "127.0.0.1:1")
    assert moved["upstream"] == "127.0.0.1:1"


async def test_client_errors_carry_status(server: FaultProxyServer, echo: EchoServer) -> None:
    client = FaultProxyClient(server.addresses["api"])
    run = asyncio.to_thread
    taken = await run(client.ensure_proxy, "a", "127.0.0.1:0", echo.address)
    cases = [
        (lambda: client.add_toxic("missing", "latency"), 404),
        (lambda: client.add_toxic("a", "nope"), 400),
        (lambda: client.update_toxic("a", "missing", attributes={}), 404),
        (lambda: client.remove_toxic("a", "missing"), 404),
        (lambda: client.ensure_proxy("b", taken["listen"], echo.address), 500),
    ]
    for call, status in cases:
        with pytest.raises(ToxiproxyError) as info:
            await run(call)
        assert info.value.status == status
    await run(client.add_toxic, "a", "latency")
    with pytest.raises(ToxiproxyError) as info:
        await run(client.add_toxic, "a", "latency")
    assert (info.value.status, str(info.value)) == (409, "toxic already exists")


def test_unreachable_server_is_a_clear_error() -> None:
    from edgelab.testing.upstreams import closed_port

    client = FaultProxyClient(f"127.0.0.1:{closed_port()}")
    assert client.running() is False
    with pytest.raises(ToxiproxyError):
        client.proxies()
    with pytest.raises(ValueError):
        FaultProxyClient("nonsense")
