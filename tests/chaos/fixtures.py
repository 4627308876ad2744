"""Experiments as data, and a small in-process lab of real servers for runner tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from edgelab.chaos.context import LabView, ProcessView
from edgelab.chaos.model import Experiment
from edgelab.config.edge import EdgeConfig
from edgelab.controlplane.app import ControlServer
from edgelab.edge.server import EdgeServer
from edgelab.faultproxy.client import FaultProxyClient
from edgelab.faultproxy.server import FaultProxyServer
from edgelab.origin.profile import OriginProfile
from edgelab.origin.server import OriginServer
from edgelab.testing.servers import running

SHORT: dict[str, Any] = {
    "title": "Edge returns 500s",
    "description": "an abort fault on every POP for a short window",
    "load": {"duration_s": 1.2},
    "steady-state-hypothesis": {
        "title": "pages load",
        "probes": [
            {
                "type": "probe",
                "name": "pages ok",
                "tolerance": {"min": 0.9},
                "provider": {
                    "func": "http.success_ratio",
                    "arguments": {"path": "/page/1", "requests": 5},
                },
            },
        ],
    },
    "method": [
        {
            "name": "abort all",
            "at_s": 0.1,
            "fault": "start",
            "provider": {"func": "edge.abort", "arguments": {"status": 500}},
        },
        {
            "type": "probe",
            "name": "during fault",
            "at_s": 0.3,
            "tolerance": {"min": 0.9},
            "provider": {
                "func": "http.success_ratio",
                "arguments": {"path": "/page/1", "requests": 5},
            },
        },
        {
            "name": "lift abort",
            "at_s": 0.8,
            "fault": "end",
            "provider": {"func": "edge.clear_faults", "arguments": {}},
        },
    ],
    "variants": [{"name": "none"}, {"name": "hardened"}],
}

BROKEN_ACTION: dict[str, Any] = {
    **SHORT,
    "method": [
        {
            "name": "freeze a ghost",
            "at_s": 0.1,
            "provider": {
                "func": "process.signal",
                "arguments": {"process": "ghost", "signal_name": "SIGSTOP"},
            },
        },
        {
            "name": "abort all",
            "at_s": 0.2,
            "fault": "start",
            "provider": {"func": "edge.abort", "arguments": {}},
        },
    ],
    "variants": [{"name": "none"}],
}


def experiment(data: dict[str, Any]) -> Experiment:
    return Experiment.model_validate(data)


class InProcessLab:
    """Origin + one POP per CDN as real servers in this process; remembers what it started."""

    def __init__(self, with_control: bool = False, with_toxiproxy: bool = False) -> None:
        self.with_control = with_control
        self.with_toxiproxy = with_toxiproxy
        self.started: list[tuple[str, dict[str, str]]] = []
        self.stopped: list[str] = []

    @contextlib.asynccontextmanager
    async def __call__(self, exp: Experiment, vdir: Path) -> AsyncIterator[LabView]:
        profile = OriginProfile.model_validate(
            {"capacity": {"service_time": {"distribution": "fixed", "mean_ms": 1}}}
        )
        async with contextlib.AsyncExitStack() as stack:
            origin = await stack.enter_async_context(running(OriginServer(profile)))
            procs = {"origin": ProcessView("origin", "origin", dict(origin.addresses))}
            extra: dict[str, Any] = {}
            if self.with_control:
                control = await stack.enter_async_context(
                    running(ControlServer(state_dir=vdir / "control"))
                )
                procs["control"] = ProcessView("control", "control", dict(control.addresses))
                extra = {"control": {"url": control.addresses["http"], "poll_timeout_s": 5}}
            toxi = None
            if self.with_toxiproxy:
                toxi = await stack.enter_async_context(running(FaultProxyServer()))
                procs["toxiproxy"] = ProcessView("toxiproxy", "toxiproxy", dict(toxi.addresses))
            for cdn in ("cdn-a", "cdn-b"):
                name = f"edge-{cdn[-1]}-1"
                origin_url = origin.addresses["http"]
                if toxi is not None:
                    client = FaultProxyClient(toxi.addresses["api"])
                    proxy = await asyncio.to_thread(
                        client.ensure_proxy,
                        f"{name}-origin",
                        listen="127.0.0.1:0",
                        upstream=origin_url.removeprefix("http://"),
                    )
                    origin_url = "http://" + proxy["listen"]
                cfg = EdgeConfig.model_validate(
                    {"origin": origin_url, "pop": name, "cdn": cdn, **extra, **exp.lab.edge}
                )
                edge = await stack.enter_async_context(running(EdgeServer(cfg)))
                procs[name] = ProcessView(name, "edge", dict(edge.addresses), cdn=cdn)
            self.started.append(
                (exp.variants[0].name, {n: dict(p.addresses) for n, p in procs.items()})
            )
            stack.callback(self.stopped.append, exp.variants[0].name)
            yield LabView(procs)


class WaitLoad:
    """Stands for the load in runner tests: ends after the duration; real Locust runs elsewhere."""

    def __init__(self, duration_s: float) -> None:
        self._done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(duration_s, self._finish)

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    async def wait(self) -> None:
        await self._done

    async def stop(self) -> None:
        self._finish()


async def wait_load(exp: Experiment, lab: LabView, vdir: Path) -> WaitLoad:
    return WaitLoad(exp.load.duration_s)
