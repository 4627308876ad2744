"""Container faults in the compose lab, through the Docker SDK: kill, stop, pause, restart.

    container.act(ctx, service="edge-a", action="pause")      # every replica of edge-a

The embedded lab's equivalent is `process.signal` (SIGKILL, SIGSTOP/SIGCONT). A paused or
stopped container registers its unpause/start for rollback. Without a reachable Docker engine
the action fails with one line saying so (recorded in the journal, the run goes on).
"""

from __future__ import annotations

import asyncio
from typing import Any

from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext
from edgelab.errors import EdgelabError

ACTIONS = ("kill", "stop", "pause", "unpause", "start", "restart")
_UNDO = {"pause": "unpause", "stop": "start", "kill": "start"}


def _containers(service: str, project: str) -> list[Any]:
    from edgelab.lab.compose import lab_containers

    chosen = [
        c for c in lab_containers(project) if c.labels.get("com.docker.compose.service") == service
    ]
    if not chosen:
        raise ActivityFailed(f"no container of service {service!r} in compose project {project!r}")
    return chosen


async def act(
    ctx: RunContext, *, service: str, action: str = "kill", project: str = "edgelab"
) -> dict[str, Any]:
    """Apply `action` (kill, stop, pause, unpause, start, restart) to every replica of `service`."""
    if action not in ACTIONS:
        raise ActivityFailed(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    try:
        containers = await asyncio.to_thread(_containers, service, project)
        for c in containers:
            await asyncio.to_thread(getattr(c, action))
    except EdgelabError as e:
        raise ActivityFailed(str(e)) from e
    undo = _UNDO.get(action)
    if undo is not None:

        async def take_back() -> None:
            for c in containers:
                await asyncio.to_thread(getattr(c, undo))

        ctx.on_rollback(f"{undo} {service} containers", take_back)
    return {"service": service, "action": action, "containers": [c.name for c in containers]}
