"""The generated Chaos Toolkit providers (see the package docstring).

One synchronous function per catalogue entry, with the entry's keyword arguments plus Chaos
Toolkit's `configuration`; it builds a lab view from the state file, runs the entry, returns its
output. Generated rather than written out, so the two can never drift.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from edgelab.chaos.catalogue import CATALOGUE, Activity
from edgelab.chaos.context import LabView, ProcessView, RunContext
from edgelab.errors import ConfigError

STATE_KEY = "edgelab_lab_state"
"""Chaos Toolkit configuration key: the path of the lab's state file."""


def lab_from_state(path: Path) -> LabView:
    """A LabView of a running lab, from its state file."""
    from edgelab.lab.state import read_state

    state = read_state(path)
    processes = {
        name: ProcessView(name, p.role, dict(p.addresses), cdn=p.cdn, pid=p.pid)
        for name, p in state.processes.items()
        if p.status == "up"
    }
    return LabView(processes, extra={"endpoints": state.endpoints.model_dump()})


def _provider(name: str, entry: Activity) -> Callable[..., Any]:
    def provider(configuration: dict[str, Any] | None = None, **arguments: Any) -> Any:
        state = (configuration or {}).get(STATE_KEY)
        if not state:
            raise ConfigError(f"{name}: configuration needs {STATE_KEY!r}, the lab's state file")

        async def run() -> Any:
            async with aiohttp.ClientSession() as http:
                ctx = RunContext(lab=lab_from_state(Path(state)), http=http, variant="chaostoolkit")
                return await entry(ctx, **arguments)

        return asyncio.run(run())

    params = [p for p in inspect.signature(entry).parameters.values() if p.name != "ctx"]
    params.append(inspect.Parameter("configuration", inspect.Parameter.KEYWORD_ONLY, default=None))
    provider.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    provider.__name__ = name
    provider.__doc__ = entry.__doc__
    return provider


PROVIDERS: dict[str, Callable[..., Any]] = {
    key.replace(".", "_"): _provider(key.replace(".", "_"), entry)
    for key, entry in CATALOGUE.items()
}
globals().update(PROVIDERS)
__all__ = sorted(PROVIDERS)
