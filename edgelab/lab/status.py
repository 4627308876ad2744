"""What a running lab looks like now: per process, is it alive, is it healthy, which versions.

    rows = await probe(read_state(Path(".edgelab/lab.json")))
    rows[0].name, rows[0].running, rows[0].health, rows[0].versions   # "origin", True, "ok", {}

Liveness comes from the pid (checked against its start time), health from a GET of the
process's health URL, and the artifact versions a POP applied from its admin `/config`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from edgelab.lab.procs import alive
from edgelab.lab.state import LabState, ProcessState

_TIMEOUT_S = 2.0
"""A health check that takes longer than this counts as failed (the process may be stopped)."""


@dataclass(frozen=True)
class ProcessRow:
    name: str
    role: str
    pid: int | None
    running: bool
    status: str
    """What the supervisor last recorded (`up`, `exited`, `stopped`...)."""
    address: str
    health: str
    """`ok`, `down` (no answer), an HTTP status that is not 200, or `-` when not running."""
    versions: dict[str, str] = field(default_factory=dict)
    """Artifact kind -> `v<version> <outcome>`, from a POP's admin `/config`."""
    restarts: int = 0


def _address(ps: ProcessState) -> str:
    """`host:port` of the main listener; a POP's admin port follows in brackets."""
    shown = [v.removeprefix("http://") for v in ps.addresses.values()]
    if "admin" in ps.addresses and len(shown) == 2:
        return f"{shown[0]} (admin :{shown[1].rsplit(':', 1)[-1]})"
    return shown[0] if shown else ""


async def _get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        body: Any = None
        if resp.content_type == "application/json":
            body = await resp.json()
        return resp.status, body


async def _probe_one(http: aiohttp.ClientSession, ps: ProcessState) -> ProcessRow:
    running = ps.pid is not None and alive(ps.pid, ps.ident)
    health, versions = "-", {}
    if running and ps.health:
        try:
            status, _ = await _get_json(http, ps.health)
            health = "ok" if status == 200 else str(status)
        except (aiohttp.ClientError, TimeoutError):
            health = "down"
    if running and ps.role == "edge" and "admin" in ps.addresses:
        try:
            status, body = await _get_json(http, ps.addresses["admin"] + "/config")
            if status == 200 and isinstance(body, dict):
                for kind, applied in (body.get("artifacts") or {}).items():
                    outcome = applied.get("outcome") or ""
                    versions[kind] = f"v{applied.get('version')} {outcome}".strip()
        except (aiohttp.ClientError, TimeoutError):
            pass
    return ProcessRow(
        name=ps.name,
        role=ps.role,
        pid=ps.pid,
        running=running,
        status=ps.status if running or ps.status != "up" else "dead",
        address=_address(ps),
        health=health,
        versions=versions,
        restarts=ps.restarts,
    )


async def probe(state: LabState) -> list[ProcessRow]:
    """One row per process in the state file, probed concurrently."""
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        return list(
            await asyncio.gather(*(_probe_one(http, ps) for ps in state.processes.values()))
        )
