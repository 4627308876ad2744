"""Config-plane actions, through the control plane's JSON API (edgelab.controlplane.app).

`target` on a push names the POPs the way every catalogue entry does (`all`, a CDN, a POP),
so a partial rollout is `target: cdn-a`. Generators started here are stopped on rollback; a
killswitch is undone by rolling `killswitches` back to the version before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelab.chaos.catalogue._http import ActivityFailed, call
from edgelab.chaos.context import RunContext


def _control(ctx: RunContext) -> str:
    return ctx.lab.one("control").addresses["http"]


def _target(ctx: RunContext, target: str) -> dict[str, Any]:
    if target == "all":
        return {}
    return {"pops": [p.name for p in ctx.lab.select("edge", target)]}


async def push(
    ctx: RunContext,
    *,
    kind: str,
    content: str | None = None,
    file: str | None = None,
    mutation: str | None = None,
    target: str = "all",
    wait_s: float = 5.0,
) -> dict[str, Any]:
    """Push an artifact: literal `content`, a `file`, or a named bad `mutation` of the latest good one."""
    body: dict[str, Any] = {"author": "chaos", "target": _target(ctx, target), "wait_s": wait_s}
    if file is not None:
        try:
            body["content"] = Path(file).read_text(encoding="utf-8")
        except OSError as e:
            raise ActivityFailed(f"{file}: cannot read: {e.strerror}") from e
    elif content is not None:
        body["content"] = content
    elif mutation is not None:
        body["mutation"] = mutation
    else:
        raise ActivityFailed("push needs one of content, file or mutation")
    result: dict[str, Any] = await call(ctx, "POST", f"{_control(ctx)}/v1/artifacts/{kind}", body)
    return result


def _shipped_default(kind: str) -> str | None:
    """The content a POP starts with for `kind`, when there is one."""
    if kind == "bot-features":
        from edgelab.edge.stages.bot import default_feature_file

        return default_feature_file().decode()
    if kind == "waf-rules":
        from edgelab.policy.waf.rules import named_ruleset_document

        return named_ruleset_document("managed").decode()
    if kind == "killswitches":
        return '{"modules": {}, "rules": []}'
    return None


async def rollback(ctx: RunContext, *, kind: str, version: int | None = None) -> dict[str, Any]:
    """Push an earlier version again (default: the last known good)."""
    body = {} if version is None else {"version": version}
    control = _control(ctx)
    try:
        result: dict[str, Any] = await call(
            ctx, "POST", f"{control}/v1/artifacts/{kind}/rollback", body
        )
    except ActivityFailed:
        shipped = _shipped_default(kind)
        if version is not None or shipped is None:
            raise
        # Nothing good was ever pushed: what the POPs ship with is the known good.
        result = await call(
            ctx, "POST", f"{control}/v1/artifacts/{kind}", {"content": shipped, "author": "chaos"}
        )
    return result


async def flap(
    ctx: RunContext,
    *,
    name: str = "flapping",
    kind: str = "bot-features",
    period_s: float = 3.0,
    bad_probability: float = 0.5,
    mutation: str = "duplicate-rows",
    seed: int | None = 1,
    target: str = "all",
) -> dict[str, Any]:
    """Re-generate `kind` every `period_s`; each generation is bad with `bad_probability`."""
    control = _control(ctx)
    spec = {
        "name": name,
        "kind": kind,
        "period_s": period_s,
        "bad_probability": bad_probability,
        "mutation": mutation,
        "seed": seed,
        "target": _target(ctx, target),
    }

    async def stop() -> None:
        await call(ctx, "DELETE", f"{control}/v1/generators/{name}", ok=(200, 204, 404))

    # registered before the call: an interrupt mid-call must not leave a generator running
    ctx.on_rollback(f"stop generator {name}", stop)
    result: dict[str, Any] = await call(ctx, "POST", f"{control}/v1/generators", spec)
    return result


async def stop_flap(ctx: RunContext, *, name: str = "flapping") -> dict[str, Any]:
    """Stop a generator; the artifacts it made stay until rolled back."""
    result: dict[str, Any] | None = await call(
        ctx, "DELETE", f"{_control(ctx)}/v1/generators/{name}", ok=(200, 204)
    )
    return result or {"stopped": name}


async def killswitch(
    ctx: RunContext,
    *,
    modules: dict[str, bool] | None = None,
    rules: list[str] | None = None,
) -> dict[str, Any]:
    """Switch modules off (`{"bot": true}`) or WAF rules off by id, fleet-wide."""
    control = _control(ctx)
    result: dict[str, Any] = await call(
        ctx, "POST", f"{control}/v1/killswitch", {"modules": modules or {}, "rules": rules or []}
    )
    previous = int(result["version"]["version"]) - 1

    async def undo() -> None:
        if previous >= 1:
            await call(
                ctx, "POST", f"{control}/v1/artifacts/killswitches/rollback", {"version": previous}
            )
        else:
            empty = '{"modules": {}, "rules": []}'
            await call(
                ctx,
                "POST",
                f"{control}/v1/artifacts/killswitches",
                {"content": empty, "author": "chaos"},
            )

    ctx.on_rollback(
        f"killswitches back to v{previous}" if previous else "killswitches cleared", undo
    )
    return result
