"""WAF actions: push a named ruleset (or a file) to the POPs through the control plane.

    waf.push_ruleset(ctx, name="2019-07-02", target="cdn-a")   # the catastrophic-regex rule

Rulesets travel as `waf-rules` artifacts like any pushed config; `control.rollback` with
`kind: waf-rules` takes one back.
"""

from __future__ import annotations

from typing import Any

from edgelab.chaos.catalogue import control
from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext
from edgelab.errors import ConfigError


async def push_ruleset(
    ctx: RunContext,
    *,
    name: str | None = None,
    file: str | None = None,
    target: str = "all",
    wait_s: float = 5.0,
) -> dict[str, Any]:
    """Push the named ruleset (`managed`, `2019-07-02`, ...) or a ruleset file as `waf-rules`."""
    if file is not None:
        return await control.push(ctx, kind="waf-rules", file=file, target=target, wait_s=wait_s)
    if name is None:
        raise ActivityFailed("push_ruleset needs a name or a file")
    from edgelab.policy.waf.rules import named_ruleset_document

    try:
        content = named_ruleset_document(name).decode()
    except ConfigError as e:
        raise ActivityFailed(str(e)) from e
    return await control.push(ctx, kind="waf-rules", content=content, target=target, wait_s=wait_s)
