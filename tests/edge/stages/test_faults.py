from __future__ import annotations

import aiohttp
import pytest
from multidict import CIMultiDict

from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.edge.pipeline import settle
from edgelab.edge.server import EdgeServer
from edgelab.edge.stages.faults import FaultStage
from edgelab.policy.failure import ModulePanic
from edgelab.policy.faults.plan import FaultRule


def exchange(path: str = "/page/1") -> Exchange:
    return Exchange(
        ClientRequest("GET", path, "", CIMultiDict(), "203.0.113.1"), pop="p", ray_id="r"
    )


async def test_abort_answers_without_the_origin() -> None:
    stage = FaultStage(seed=1)
    stage.add(FaultRule(kind="abort", status=503))
    ex = exchange()
    await settle(stage.request(ex))
    assert ex.response is not None and ex.response.status == 503


async def test_panic_raises_inside_the_path() -> None:
    stage = FaultStage()
    stage.add(FaultRule(kind="panic", match={"path_prefix": "/api/"}))
    await settle(stage.request(exchange("/page/1")))  # not matched: passes
    with pytest.raises(ModulePanic):
        await settle(stage.request(exchange("/api/x")))


async def test_remove_and_clear() -> None:
    stage = FaultStage()
    a = stage.add(FaultRule(kind="abort"))
    stage.add(FaultRule(kind="delay", delay_ms=1))
    assert stage.remove(a.id) and not stage.remove(a.id)
    assert stage.clear() == 1 and not stage.plan.rules


def test_the_stage_is_idle_exactly_while_no_fault_is_on() -> None:
    stage = FaultStage()
    assert stage.idle
    a = stage.add(FaultRule(kind="abort"))
    assert not stage.idle
    stage.remove(a.id)
    assert stage.idle
    stage.add(FaultRule(kind="delay", delay_ms=1))
    assert not stage.idle
    stage.clear()
    assert stage.idle


async def test_faults_only_through_the_admin_port(
    edge: EdgeServer, http: aiohttp.ClientSession
) -> None:
    proxy, admin = edge.addresses["proxy"], edge.addresses["admin"]
    # proxied traffic cannot reach the fault API: /faults is just a path on the origin
    async with http.post(f"{proxy}/faults", json={"kind": "abort"}) as r:
        assert r.status == 404
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 200
    async with http.post(
        f"{admin}/faults", json={"kind": "abort", "status": 500, "match": {"path_prefix": "/page/"}}
    ) as r:
        assert r.status == 201
        fault = await r.json()
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 500
        assert r.headers["X-Edgelab-Ray"] in await r.text()
    async with http.get(f"{proxy}/static/a.css") as r:
        assert r.status == 200
    async with http.post(f"{admin}/faults", json={"kind": "explode"}) as r:
        assert r.status == 400
        assert "kind" in (await r.json())["error"]
    async with http.delete(f"{admin}/faults/{fault['id']}") as r:
        assert r.status == 200
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 200


async def test_module_panic_is_a_500_and_the_pop_keeps_serving(
    edge: EdgeServer, http: aiohttp.ClientSession
) -> None:
    admin, proxy = edge.addresses["admin"], edge.addresses["proxy"]
    async with http.post(
        f"{admin}/faults", json={"kind": "panic", "match": {"header": "X-Doomed"}}
    ) as r:
        assert r.status == 201
    async with http.get(f"{proxy}/page/1", headers={"X-Doomed": "1"}) as r:
        assert r.status == 500
    async with http.get(f"{proxy}/page/1") as r:
        assert r.status == 200
