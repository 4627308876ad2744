"""Edge internal faults, through each POP's admin API (never through proxied traffic).

`target` names the POPs: `all`, a CDN (`cdn-a`) or one POP (`edge-a-1`). Every fault added
registers its removal, so rollbacks take it back even if the method does not.
"""

from __future__ import annotations

from typing import Any

from edgelab.chaos.catalogue._http import call
from edgelab.chaos.context import RunContext


async def _add_fault(ctx: RunContext, target: str, rule: dict[str, Any]) -> dict[str, Any]:
    added = {}
    for pop in ctx.lab.select("edge", target):
        admin = pop.addresses["admin"]
        fault = await call(ctx, "POST", f"{admin}/faults", rule)
        added[pop.name] = fault["id"]

        async def undo(admin: str = admin, fault_id: str = fault["id"]) -> None:
            await call(ctx, "DELETE", f"{admin}/faults/{fault_id}", ok=(200, 404))

        ctx.on_rollback(f"remove fault {fault['id']} on {pop.name}", undo)
    return {"faults": added}


def _match(path_prefix: str, header: str | None) -> dict[str, Any]:
    return {"path_prefix": path_prefix, "header": header}


async def abort(
    ctx: RunContext,
    *,
    target: str = "all",
    status: int = 500,
    percentage: float = 100.0,
    path_prefix: str = "/",
    header: str | None = None,
) -> dict[str, Any]:
    """Answer `status` for `percentage`% of matching requests (Envoy's abort fault)."""
    return await _add_fault(
        ctx,
        target,
        {
            "kind": "abort",
            "status": status,
            "percentage": percentage,
            "match": _match(path_prefix, header),
        },
    )


async def delay(
    ctx: RunContext,
    *,
    delay_ms: float,
    target: str = "all",
    percentage: float = 100.0,
    path_prefix: str = "/",
    header: str | None = None,
) -> dict[str, Any]:
    """Hold `percentage`% of matching requests for `delay_ms` before they go on."""
    return await _add_fault(
        ctx,
        target,
        {
            "kind": "delay",
            "delay_ms": delay_ms,
            "percentage": percentage,
            "match": _match(path_prefix, header),
        },
    )


async def panic(
    ctx: RunContext,
    *,
    target: str = "all",
    percentage: float = 100.0,
    path_prefix: str = "/",
    header: str | None = None,
) -> dict[str, Any]:
    """Raise inside the request path, as a module panic does: the client gets 500."""
    return await _add_fault(
        ctx,
        target,
        {"kind": "panic", "percentage": percentage, "match": _match(path_prefix, header)},
    )


async def burn_cpu(
    ctx: RunContext,
    *,
    burn_ms: float,
    target: str = "all",
    percentage: float = 100.0,
    path_prefix: str = "/",
) -> dict[str, Any]:
    """Spin the POP's CPU `burn_ms` per matching request: every request on it stalls."""
    return await _add_fault(
        ctx,
        target,
        {
            "kind": "burn",
            "burn_ms": burn_ms,
            "percentage": percentage,
            "match": _match(path_prefix, None),
        },
    )


async def clear_faults(ctx: RunContext, *, target: str = "all") -> dict[str, Any]:
    """Remove every injected fault from the POPs."""
    removed = {}
    for pop in ctx.lab.select("edge", target):
        removed[pop.name] = (await call(ctx, "DELETE", f"{pop.addresses['admin']}/faults"))[
            "removed"
        ]
    return {"removed": removed}


async def crash(ctx: RunContext, *, target: str) -> dict[str, Any]:
    """Make the POP process exit at once (exit code 70); the lab restarts it only if told to."""
    crashed = []
    for pop in ctx.lab.select("edge", target):
        await call(ctx, "POST", f"{pop.addresses['admin']}/faults/crash")
        crashed.append(pop.name)
    return {"crashed": crashed}
