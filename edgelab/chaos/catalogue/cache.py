"""Cache actions on the POPs' admin API: purge (one URL, a prefix, a tag, or everything).

A purge of everything under a surge is the "purge storm": every request becomes a miss and the
whole load reaches the origin at once.
"""

from __future__ import annotations

from typing import Any

from edgelab.chaos.catalogue._http import call
from edgelab.chaos.context import RunContext


async def purge(
    ctx: RunContext,
    *,
    target: str = "all",
    urls: list[str] | None = None,
    prefixes: list[str] | None = None,
    tags: list[str] | None = None,
    everything: bool = False,
) -> dict[str, Any]:
    """Purge the named objects (or `everything`) on the targeted POPs; returns counts per POP."""
    body = {"urls": urls or [], "prefixes": prefixes or [], "tags": tags or [], "all": everything}
    purged = {}
    for pop in ctx.lab.select("edge", target):
        result = await call(ctx, "POST", f"{pop.addresses['admin']}/cache/purge", body)
        purged[pop.name] = result["purged"]
    return {"purged": purged}
