"""Origin-side faults, through the origin's admin port: its own dependency failing."""

from __future__ import annotations

from typing import Any

from edgelab.chaos.catalogue._http import call
from edgelab.chaos.context import RunContext


async def dependency(
    ctx: RunContext, *, state: str = "down", process: str | None = None
) -> dict[str, Any]:
    """Switch the origin's dependency to `down` (resolves nowhere), `slow` or `ok`.

    Anything but `ok` registers a switch back to `ok` for rollback.
    """
    admin = ctx.lab.one("origin", process).addresses["admin"]
    result: dict[str, Any] = await call(ctx, "POST", f"{admin}/dependency", {"state": state})
    if state != "ok":

        async def restore() -> None:
            await call(ctx, "POST", f"{admin}/dependency", {"state": "ok"})

        ctx.on_rollback(f"origin dependency back to ok ({admin})", restore)
    return result
