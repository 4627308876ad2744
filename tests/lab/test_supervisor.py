"""The supervisor on real processes: up, traffic, a killed process, restarts, down, failures."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from edgelab.config.edge import EdgeConfig
from edgelab.errors import EdgelabError, PortInUse, ProcessFailed
from edgelab.lab.procs import alive
from edgelab.lab.state import read_state
from edgelab.lab.status import probe
from edgelab.lab.supervisor import Lab, LabEvent
from edgelab.lab.wiring import free_port, port_free
from edgelab.loadgen.targets import load_targets
from edgelab.origin.server import OriginServer
from tests.conftest import OriginFactory
from tests.lab.conftest import lab_pids, requires, with_changes
from tests.lab.test_compose import dashboard_metric_names
from tests.metrics import metric_value

WAIT_S = 60.0
"""Generous: the machine is shared and a Python process takes a while to start."""


class Events:
    """Collects lab events; `wait(kind, name, n)` returns once the n-th such event happened."""

    def __init__(self) -> None:
        self.seen: list[LabEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: LabEvent) -> None:
        self.seen.append(event)
        self._changed.set()

    async def wait(self, kind: str, name: str, n: int = 1) -> LabEvent:
        async def until() -> LabEvent:
            while True:
                matching = [e for e in self.seen if e.kind == kind and e.name == name]
                if len(matching) >= n:
                    return matching[n - 1]
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(until(), WAIT_S)


async def get(url: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        await resp.read()
        return resp.status, dict(resp.headers)


async def test_up_traffic_kill_restart_down(small_lab: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    events = Events()
    lab = Lab.from_file(small_lab, run_dir=run_dir, on_event=events)
    async with lab:
        state = read_state(run_dir / "lab.json")
        assert state.status == "up" and list(state.processes) == ["origin", "edge-a-1"]
        assert state.origin == {
            "workers": 8,
            "queue": 64,
            "queue_timeout_s": 1.0,
            "mean_service_ms": 0.0,
        }
        pids = {lab.pid("origin"), lab.pid("edge-a-1")}
        assert pids <= lab_pids(run_dir)
        (pop,) = state.endpoints.cdns["a"]
        status, headers = await get(pop + "/static/app.js")
        assert status == 200 and "edge-a-1" in headers["Via"]
        assert state.endpoints.origin_direct == state.endpoints.origin == lab.address("origin")
        targets = load_targets(run_dir / "targets.json")  # what Locust reads
        assert targets.cdn_a == [pop] and targets.origin == state.endpoints.origin_direct

        # a killed process is reported, and status shows it
        os.kill(lab.pid("edge-a-1"), signal.SIGKILL)
        exited = await events.wait("exited", "edge-a-1")
        assert "-9" in exited.detail
        rows = {row.name: row for row in await probe(read_state(run_dir / "lab.json"))}
        assert rows["edge-a-1"].running is False and rows["edge-a-1"].status == "exited"
        assert rows["edge-a-1"].health == "-"
        assert rows["origin"].running and rows["origin"].health == "ok"

        # restart on purpose: same address, new pid
        old_pid = lab.pid("edge-a-1")
        await lab.restart("edge-a-1")
        assert lab.pid("edge-a-1") != old_pid
        assert lab.state.processes["edge-a-1"].restarts == 1
        status, _ = await get(pop + "/static/app.js")
        assert status == 200
        pids.add(lab.pid("edge-a-1"))
    assert not any(alive(pid, None) for pid in pids)
    assert lab_pids(run_dir) == set()
    assert read_state(run_dir / "lab.json").status == "stopped"
    assert (run_dir / "logs" / "origin.log").read_text().count(
        "edgelab origin http listening on"
    ) == 1


async def test_restart_on_failure(small_lab: Path, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["origins"][0]["supervision"] = {"restart": "on-failure", "max_restarts": 1}
        data["cdns"] = []

    events = Events()
    lab = Lab.from_file(with_changes(small_lab, change), run_dir=tmp_path / "run", on_event=events)
    async with lab:
        before = lab.pid("origin"), lab.address("origin")
        os.kill(before[0], signal.SIGKILL)
        await events.wait("up", "origin", 2)
        assert lab.pid("origin") != before[0] and lab.address("origin") == before[1]
        assert (await get(lab.address("origin") + "/page/1"))[0] == 200
        # the one restart allowed is used up: the next exit is only reported
        os.kill(lab.pid("origin"), signal.SIGKILL)
        await events.wait("exited", "origin", 2)
        assert lab.state.processes["origin"].status == "exited"
    assert lab_pids(tmp_path / "run") == set()


async def test_fixed_port_in_use(small_lab: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        def change(data: dict[str, Any]) -> None:
            data["origins"][0]["port"] = port

        lab = Lab.from_file(with_changes(small_lab, change), run_dir=tmp_path / "run")
        with pytest.raises(PortInUse) as e:
            await lab.up()
    assert str(e.value) == (
        f"{small_lab}: origins.0.port: 127.0.0.1:{port} is already in use "
        "(choose another port, or leave it out for a free one)"
    )
    assert lab.state.processes == {}


async def test_missing_binary(small_lab: Path, tmp_path: Path) -> None:
    lab = Lab.from_file(small_lab, run_dir=tmp_path / "run", python=str(tmp_path / "no-python"))
    with pytest.raises(EdgelabError, match=r"cannot start .*no-python: no such file"):
        await lab.up()
    assert lab_pids(tmp_path / "run") == set()


async def test_failure_during_up_stops_what_started(small_lab: Path, tmp_path: Path) -> None:
    """The POP's fixed port is taken by the origin started just before it: up fails, cleanly."""
    port = next(p for p in iter(free_port, None) if p < 65000 and port_free("127.0.0.1", p + 1))

    def change(data: dict[str, Any]) -> None:
        data["origins"][0]["port"] = port  # the POP's proxy port: taken once the origin runs
        data["cdns"][0]["base_port"] = port  # its admin port, port + 1, is free

    run_dir = tmp_path / "run"
    lab = Lab.from_file(with_changes(small_lab, change), run_dir=run_dir)
    with pytest.raises(ProcessFailed) as e:
        await lab.up()
    assert str(e.value).startswith("edge-a-1 exited with code 2 before it was healthy:")
    assert f"127.0.0.1:{port} is already in use" in str(e.value)
    origin_pid = lab.state.processes["origin"].pid
    assert origin_pid is not None and not alive(origin_pid, None)
    assert lab_pids(run_dir) == set()
    assert read_state(run_dir / "lab.json").status == "failed"


async def test_own_origin_and_skipped_components(
    small_lab: Path, tmp_path: Path, make_origin: OriginFactory
) -> None:
    mine: OriginServer = await make_origin()

    def change(data: dict[str, Any]) -> None:
        data["toxiproxy"] = {"enabled": True}

    events = Events()
    lab = Lab.from_file(
        with_changes(small_lab, change),
        run_dir=tmp_path / "run",
        origin_url=mine.addresses["http"],
        on_event=events,
        available={"origin", "edge"},
    )
    async with lab:
        assert list(lab.state.processes) == ["edge-a-1"]
        assert lab.state.origin_external and lab.state.origin is None
        assert lab.state.skipped == {
            "toxiproxy": "edgelab toxiproxy is not available in this build",
            "control": "disabled in the lab file",
            "steering": "disabled in the lab file",
        }
        assert lab.state.endpoints.origin_direct == mine.addresses["http"]
        status, _ = await get(lab.state.endpoints.cdns["a"][0] + "/api/x")
        assert status == 200
        assert metric_value(await _metrics(mine), "edgelab_origin_requests_total") >= 1
    assert any(e.kind == "skipped" and e.name == "toxiproxy" for e in events.seen)


async def _metrics(origin: OriginServer) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(origin.addresses["http"] + "/metrics") as r,
    ):
        return await r.text()


def exported_names(text: str) -> set[str]:
    """Sample names a /metrics text declares, with the suffixes its metric types imply."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("_sum", "_count", "_created"),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name, *(family.name + x for x in suffixes.get(family.type, ()))}
        names |= {sample.name for sample in family.samples}
    return names


@requires("toxiproxy")
@requires("control")
async def test_full_topology(small_lab: Path, tmp_path: Path) -> None:
    """Each POP reaches the origin through its own proxy; breaking it breaks only that path;
    a restarted Toxiproxy gets its links back on the same ports; POPs subscribe to control;
    every process serves /metrics, with every metric the compose lab's dashboard queries."""

    def change(data: dict[str, Any]) -> None:
        data["toxiproxy"] = {"links": {"origin": True, "direct": True}}
        data["control"] = {}

    events = Events()
    lab = Lab.from_file(with_changes(small_lab, change), run_dir=tmp_path / "run", on_event=events)
    async with lab, aiohttp.ClientSession() as http:
        links = lab.state.links
        assert set(links) == {"edge-a-1-origin", "origin-direct"}
        origin_hostport = lab.address("origin", "http").removeprefix("http://")
        assert links["edge-a-1-origin"].upstream == origin_hostport
        assert lab.state.endpoints.origin_direct == links["origin-direct"].url
        config = EdgeConfig.model_validate(
            yaml.safe_load(Path(lab.run_dir / "config" / "edge-a-1.yaml").read_text())
        )
        assert config.origin == links["edge-a-1-origin"].url
        assert config.control is not None and config.control.url == lab.address("control")

        pop = lab.state.endpoints.cdns["a"][0]
        assert (await get(pop + "/api/1"))[0] == 200
        api = lab.address("toxiproxy")
        ua = {"User-Agent": "edgelab-test"}
        async with http.post(
            f"{api}/proxies/edge-a-1-origin", json={"enabled": False}, headers=ua
        ) as resp:
            assert resp.status == 200
        assert (await get(pop + "/api/2"))[0] in (502, 504)
        assert (await get(lab.state.endpoints.origin_direct + "/api/3"))[0] == 200

        await lab.restart("toxiproxy")
        await events.wait("linked", "edge-a-1-origin", 2)
        assert lab.state.links["edge-a-1-origin"].listen == links["edge-a-1-origin"].listen
        assert (await get(pop + "/static/app.js"))[0] == 200

        async def subscribed() -> None:
            while True:
                async with http.get(lab.address("control") + "/v1/pops") as resp:
                    pops = [p.get("pop") or p.get("name") for p in (await resp.json())["pops"]]
                if "edge-a-1" in pops:
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(subscribed(), WAIT_S)

        exported: set[str] = set()
        for ps in lab.state.processes.values():
            base = ps.addresses.get("admin") or next(iter(ps.addresses.values()))
            async with http.get(base + "/metrics") as resp:
                assert resp.status == 200, ps.name
                exported |= exported_names(await resp.text())
    wanted = dashboard_metric_names()
    assert wanted <= exported, sorted(wanted - exported)
    assert lab_pids(tmp_path / "run") == set()


async def test_own_origin_unreachable(small_lab: Path, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    lab = Lab.from_file(small_lab, run_dir=tmp_path / "run", origin_url=f"http://127.0.0.1:{port}")
    with pytest.raises(EdgelabError) as e:
        await lab.up()
    assert str(e.value) == (
        f"--origin-url http://127.0.0.1:{port}: cannot connect: Connection refused"
    )
    assert lab.state.processes == {}
