"""The edge's admin listener: `/healthz`, `/metrics`, `/config`. A separate socket, never proxied.

Later issues add purge, fault injection and the config subscriber's endpoints here; the
state-changing ones take a token when the admin listener is not on loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from edgelab.serving import observability_routes

if TYPE_CHECKING:
    from edgelab.edge.server import EdgeServer


def admin_app(edge: EdgeServer) -> web.Application:
    app = web.Application()
    app.add_routes(observability_routes(edge.registry, "edge"))

    async def config(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "pop": edge.config.pop,
                "cdn": edge.config.cdn,
                "config": edge.config.model_dump(mode="json"),
            }
        )

    app.add_routes([web.get("/config", config)])
    return app
