"""Network faults through any Toxiproxy server (edgelab's or the real image), via toxiproxy-python.

Proxy names are the lab's links (e.g. `edge-a-1-origin`, `origin-direct`). A toxic added or a
proxy disabled here is taken back on rollback. The client blocks, so calls run in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext
from edgelab.faultproxy.client import FaultProxyClient, ToxiproxyError


def _client(ctx: RunContext) -> FaultProxyClient:
    proc = ctx.lab.one("toxiproxy")
    return FaultProxyClient(proc.addresses.get("api") or next(iter(proc.addresses.values())))


async def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except ToxiproxyError as e:
        raise ActivityFailed(f"toxiproxy: {e} ({e.status})") from e


async def add_toxic(
    ctx: RunContext,
    *,
    proxy: str,
    type: str,
    stream: str = "downstream",
    name: str | None = None,
    toxicity: float = 1.0,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add a toxic (latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data)."""
    client = _client(ctx)
    toxic: dict[str, Any] = await _run(
        client.add_toxic, proxy, type, stream, name, toxicity, attributes or {}
    )

    async def remove() -> None:
        try:
            await asyncio.to_thread(client.remove_toxic, proxy, toxic["name"])
        except ToxiproxyError as e:
            if e.status != 404:
                raise

    ctx.on_rollback(f"remove toxic {toxic['name']} from {proxy}", remove)
    return toxic


async def update_toxic(
    ctx: RunContext,
    *,
    proxy: str,
    name: str,
    attributes: dict[str, Any] | None = None,
    toxicity: float | None = None,
) -> dict[str, Any]:
    """Change a toxic's attributes or toxicity in place (open connections feel it too)."""
    result: dict[str, Any] = await _run(
        _client(ctx).update_toxic, proxy, name, attributes, toxicity
    )
    return result


async def remove_toxic(ctx: RunContext, *, proxy: str, name: str) -> dict[str, Any]:
    await _run(_client(ctx).remove_toxic, proxy, name)
    return {"removed": name, "proxy": proxy}


async def disable(ctx: RunContext, *, proxy: str) -> dict[str, Any]:
    """Take a link down: its listener closes and open connections drop (a black hole)."""
    client = _client(ctx)
    await _run(client.disable, proxy)

    async def enable_again() -> None:
        await asyncio.to_thread(client.enable, proxy)

    ctx.on_rollback(f"enable proxy {proxy}", enable_again)
    return {"disabled": proxy}


async def enable(ctx: RunContext, *, proxy: str) -> dict[str, Any]:
    await _run(_client(ctx).enable, proxy)
    return {"enabled": proxy}
