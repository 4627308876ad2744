"""The edge's admin listener: `/healthz`, `/metrics`, `/config`, plus the stages' own routes.

A separate socket, never reachable through the proxy port. Stages contribute endpoints through
an optional `admin_routes()` method (purge, faults, ...). State-changing calls (anything but GET
and HEAD) need `Authorization: Bearer <token>` when a token is set; the server refuses to bind
the admin listener beyond loopback without one.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from edgelab.serving import observability_routes

if TYPE_CHECKING:
    from edgelab.edge.server import EdgeServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_guard(token: str | None) -> Middleware:
    """Middleware: state-changing admin calls need the bearer token (when one is set)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.method not in ("GET", "HEAD"):
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return web.json_response({"error": "admin token required"}, status=401)
        return await handler(request)

    return guard


def admin_app(edge: EdgeServer) -> web.Application:
    app = web.Application(middlewares=[token_guard(edge.admin_token)])
    app.add_routes(observability_routes(edge.registry, "edge"))

    async def config(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "pop": edge.config.pop,
                "cdn": edge.config.cdn,
                "config": edge.config.model_dump(mode="json"),
                "artifacts": {
                    kind: {
                        "version": version,
                        "outcome": str(edge.artifacts.last_outcome.get(kind, "")),
                    }
                    for kind, version in edge.artifacts.applied.items()
                },
                "control": edge.subscriber.describe() if edge.subscriber is not None else None,
            }
        )

    app.add_routes([web.get("/config", config)])
    for stage in edge.pipeline.stages:
        routes = getattr(stage, "admin_routes", None)
        if routes is not None:
            app.add_routes(routes())
    return app
