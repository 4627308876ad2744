"""Small JSON-over-HTTP helpers for catalogue functions; failures become ActivityFailed."""

from __future__ import annotations

from typing import Any

import aiohttp

from edgelab.chaos.context import RunContext
from edgelab.errors import EdgelabError


class ActivityFailed(EdgelabError, RuntimeError):
    """An action or probe could not do its job (the target refused or was unreachable)."""


async def call(
    ctx: RunContext, method: str, url: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)
) -> Any:
    try:
        async with ctx.http.request(method, url, json=body, headers=ctx.headers()) as r:
            text = await r.text()
            if r.status not in ok:
                raise ActivityFailed(f"{method} {url} answered {r.status}: {text[:200]}")
            return await r.json(content_type=None) if text else None
    except aiohttp.ClientError as e:
        raise ActivityFailed(f"{method} {url} failed: {e}") from e
