"""A backend for a POP that answers 200, or 500 while told to fail: a POP whose process is up
but whose answers are errors (the 2025-11-18 panic), as steering and users see it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from edgelab.origin.server import ATTACK_MARKER


class Switch:
    """An origin behind a POP that answers 200, or 500 while `failing` (a POP that panics)."""

    def __init__(self) -> None:
        self.failing = False
        self.user_agents: list[str] = []
        self.seen = asyncio.Event()
        """Set by the first request of any kind (a health check counts)."""
        self.load_seen = asyncio.Event()
        """Set by the first request that is not a steering health check."""
        self.load_headers: list[dict[str, str]] = []
        """Headers (lower-case names) of every request that was not a health check."""

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            agent = request.headers.get("User-Agent", "")
            self.user_agents.append(agent)
            self.seen.set()
            if "edgelab-steer" not in agent:
                self.load_headers.append({k.lower(): v for k, v in request.headers.items()})
                self.load_seen.set()
            if self.failing:
                return web.Response(status=500, text="panic\n")
            return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    @property
    def markers(self) -> list[str | None]:
        """`X-Edgelab-Attack` of every request that was not a health check (None when absent)."""
        return [h.get(ATTACK_MARKER.lower()) for h in self.load_headers]
