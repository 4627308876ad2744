"""What a catalogue function gets: the lab's addresses, one HTTP client, and undo bookkeeping.

    async def abort(ctx: RunContext, *, status: int = 500, target: str = "cdn-a") -> dict: ...

`LabView` is the little the catalogue needs from a running lab (embedded or compose): each
process's role, CDN, addresses and pid. Faults a function injects register an undo with
`ctx.on_rollback`, so rollbacks remove them even when the experiment forgot to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from edgelab.errors import ConfigError


@dataclass(frozen=True)
class ProcessView:
    name: str
    role: str
    """origin | edge | control | toxiproxy | steering | ..."""
    addresses: Mapping[str, str]
    """Listener -> URL; edges have `proxy` and `admin`."""
    cdn: str | None = None
    pid: int | None = None

    @property
    def ops_base(self) -> str | None:
        """Where its `/healthz` and `/metrics` are: the admin listener if it has one (edges,
        the origin), else its only API (`http`, `api`); None if it listens nowhere."""
        a = self.addresses
        return a.get("admin") or a.get("http") or a.get("api") or next(iter(a.values()), None)


@dataclass
class LabView:
    processes: dict[str, ProcessView]
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the lab resolved (toxiproxy proxies, steering services)."""

    def select(self, role: str, target: str = "all") -> list[ProcessView]:
        """Processes of `role` named by `target`: `all`, a CDN name, or a process name."""
        chosen = [
            p
            for p in self.processes.values()
            if p.role == role and (target in ("all", p.name) or p.cdn == target)
        ]
        if not chosen:
            names = sorted(
                {p.name for p in self.processes.values() if p.role == role}
                | {p.cdn for p in self.processes.values() if p.role == role and p.cdn}
            )
            raise ConfigError(
                f"no {role} named {target!r} in this lab (have: all, {', '.join(names)})"
            )
        return chosen

    def one(self, role: str, name: str | None = None) -> ProcessView:
        return self.select(role, name or "all")[0]


Undo = Callable[[], Awaitable[None]]


@dataclass
class RunContext:
    lab: LabView
    http: aiohttp.ClientSession
    variant: str = ""
    token: str | None = None
    """Bearer token for admin APIs (labs on loopback need none)."""
    undo: list[tuple[str, Undo]] = field(default_factory=list)

    def on_rollback(self, description: str, undo: Undo) -> None:
        """Register how to take back something just injected; rollbacks run these last-in first."""
        self.undo.append((description, undo))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}
