"""`edgelab origin`: an aiohttp app whose handlers pass through the capacity gate.

    server = OriginServer(OriginProfile(), host="127.0.0.1", port=0)
    await server.start(); print(server.addresses["http"]); await server.stop()

Every request but `/healthz` and `/metrics` takes a worker for a drawn service time; over
capacity it is shed with 503 and `Retry-After`. Requests carrying the load tests' attack marker
(`X-Edgelab-Attack`) are counted, so a report can say how much attack traffic reached the origin.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from edgelab.errors import ConfigError
from edgelab.origin import content as c
from edgelab.origin.capacity import CapacityGate, ServiceTimeModel, Shed
from edgelab.origin.profile import OriginProfile
from edgelab.origin.routes import ATTACK_MARKER as ATTACK_MARKER  # re-exported
from edgelab.origin.routes import route_class as route_class  # re-exported
from edgelab.serving import (
    DEFAULT_HOST,
    DRAIN_TIMEOUT_S,
    bind_site,
    is_loopback,
    observability_routes,
    url,
)

logger = logging.getLogger(__name__)


class OriginMetrics:
    """The origin's Prometheus series, in its own registry."""

    def __init__(
        self, registry: CollectorRegistry, gate: CapacityGate, capacity_workers: int
    ) -> None:
        self.requests = Counter(
            "edgelab_origin_requests",
            "Requests answered, by route class and status",
            ["route", "status"],
            registry=registry,
        )
        self.shed = Counter(
            "edgelab_origin_shed",
            "Requests shed with 503, by reason",
            ["reason"],
            registry=registry,
        )
        self.attacks = Counter(
            "edgelab_origin_attack_requests",
            "Requests carrying the attack marker that reached the origin",
            ["route"],
            registry=registry,
        )
        self.dependency_failures = Counter(
            "edgelab_origin_dependency_failures",
            "Requests failed because the dependency was down",
            ["dependency"],
            registry=registry,
        )
        self.service_time = Histogram(
            "edgelab_origin_service_seconds",
            "Time a request held a worker",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        in_flight = Gauge(
            "edgelab_origin_in_flight", "Requests holding a worker", registry=registry
        )
        in_flight.set_function(lambda: gate.busy)
        queued = Gauge(
            "edgelab_origin_queue_depth", "Requests waiting for a worker", registry=registry
        )
        queued.set_function(lambda: gate.waiting)
        workers = Gauge("edgelab_origin_capacity_workers", "Configured workers", registry=registry)
        workers.set(capacity_workers)


class OriginServer:
    """The origin process: routes, capacity gate, metrics, one listener."""

    def __init__(
        self,
        profile: OriginProfile,
        host: str = DEFAULT_HOST,
        port: int = 0,
        admin_host: str = DEFAULT_HOST,
        admin_port: int = 0,
        admin_token: str | None = None,
    ) -> None:
        if admin_token is None and not is_loopback(admin_host):
            raise ConfigError(
                f"origin --admin-host {admin_host}: beyond loopback the admin API needs --admin-token"
            )
        self.admin_host = admin_host
        self.admin_token = admin_token
        self.profile = profile
        self.host = host
        self.port = port
        self.admin_port = admin_port
        self.dependency_state = "ok"
        """`ok`, `down` or `slow`: switched on the admin port by chaos actions."""
        self.registry = CollectorRegistry()
        cap = profile.capacity
        self.gate = CapacityGate(cap.workers, cap.queue, cap.queue_timeout_s)
        self.service_time = ServiceTimeModel.from_profile(cap.service_time)
        self.rng = random.Random(profile.seed)
        self.metrics = OriginMetrics(self.registry, self.gate, cap.workers)
        self.started_at = time.time()
        self._runner: web.AppRunner | None = None
        self._admin_runner: web.AppRunner | None = None
        self.app = self._build_app()

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(observability_routes(self.registry, "origin"))
        app.add_routes(
            [
                web.route("*", "/static/{path:.+}", self._gated(self._static)),
                web.route("*", "/page/{id}", self._gated(self._page)),
                web.route("*", "/api/{path:.*}", self._gated(self._api)),
                web.route("*", "/search", self._gated(self._search)),
                web.route("*", "/login", self._gated(self._login)),
            ]
        )
        return app

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"http": url(self.host, self.port), "admin": url(self.admin_host, self.admin_port)}

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=DRAIN_TIMEOUT_S)
        self._admin_runner = web.AppRunner(self._admin_app(), access_log=None, shutdown_timeout=1.0)
        try:
            await self._runner.setup()
            await self._admin_runner.setup()
            self.port = await bind_site(self._runner, self.host, self.port, "origin --port")
            self.admin_port = await bind_site(
                self._admin_runner, self.admin_host, self.admin_port, "origin --admin-port"
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for runner in (self._runner, self._admin_runner):
            if runner is not None:
                await runner.cleanup()
        self._runner = self._admin_runner = None

    def _admin_app(self) -> web.Application:
        """Health, metrics and the dependency switch, on a port proxied traffic never reaches."""
        from edgelab.edge.admin import token_guard

        app = web.Application(middlewares=[token_guard(self.admin_token)])
        app.add_routes(observability_routes(self.registry, "origin"))

        async def get_dependency(_: web.Request) -> web.Response:
            return web.json_response(
                {"name": self.profile.dependency.name, "state": self.dependency_state}
            )

        async def set_dependency(request: web.Request) -> web.Response:
            try:
                state = (await request.json())["state"]
            except (ValueError, KeyError, TypeError):
                return web.json_response(
                    {"error": 'body must be {"state": "ok" | "down" | "slow"}'}, status=400
                )
            if state not in ("ok", "down", "slow"):
                return web.json_response(
                    {"error": f"unknown state {state!r}: ok, down or slow"}, status=400
                )
            self.dependency_state = state
            logger.warning("dependency %s is now %s", self.profile.dependency.name, state)
            return web.json_response({"name": self.profile.dependency.name, "state": state})

        app.add_routes(
            [web.get("/dependency", get_dependency), web.post("/dependency", set_dependency)]
        )
        return app

    # -- capacity --------------------------------------------------------------------------

    def _gated(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def gated(request: web.Request) -> web.StreamResponse:
            route = route_class(request.path)
            if ATTACK_MARKER in request.headers:
                self.metrics.attacks.labels(route).inc()
            try:
                async with self.gate.slot():
                    started = time.perf_counter()
                    # Holding the worker for the drawn time is the capacity model.
                    await asyncio.sleep(self.service_time.sample(self.rng))
                    failed = await self._call_dependency(route)
                    resp = failed if failed is not None else await handler(request)
                    self.metrics.service_time.observe(time.perf_counter() - started)
            except Shed as e:
                self.metrics.shed.labels(e.reason).inc()
                resp = web.Response(
                    status=503,
                    text=f"origin over capacity ({e.reason})\n",
                    headers={
                        "Retry-After": str(self.profile.capacity.retry_after_s),
                        "Cache-Control": "no-store",
                    },
                )
            self.metrics.requests.labels(route, str(resp.status)).inc()
            return resp

        return gated

    async def _call_dependency(self, route: str) -> web.Response | None:
        """The dependency call of a dynamic route: None when it worked, else the 500 to send."""
        dep = self.profile.dependency
        if self.dependency_state == "ok" or route not in dep.routes:
            return None
        if self.dependency_state == "slow":
            await asyncio.sleep(dep.slow_ms / 1000.0)
            return None
        await asyncio.sleep(dep.failure_ms / 1000.0)
        self.metrics.dependency_failures.labels(dep.name).inc()
        return web.Response(
            status=500,
            text=f"dependency {dep.name} unreachable\n",
            headers={"Cache-Control": "no-store"},
        )

    # -- routes ----------------------------------------------------------------------------

    def _answer(self, request: web.Request, content: c.Content) -> web.Response:
        headers = {"Cache-Control": content.cache_control, **content.extra}
        if content.etag:
            headers["ETag"] = content.etag
        if content.last_modified:
            headers["Last-Modified"] = content.last_modified
        if request.method in ("GET", "HEAD") and c.not_modified(content, request.headers):
            return web.Response(status=304, headers=headers)
        ctype, _, params = content.content_type.partition(";")
        charset = params.split("=", 1)[1].strip() if "charset=" in params else None
        return web.Response(body=content.body, content_type=ctype, charset=charset, headers=headers)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        return self._answer(
            request, c.static_asset(request.path, self.profile.routes, self.started_at)
        )

    async def _page(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        return self._answer(
            request, c.html_page(request.match_info["id"], self.profile.routes, self.started_at)
        )

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.can_read_body:
            await request.read()
        return self._answer(request, c.api_response(request.path, self.profile.routes))

    async def _search(self, request: web.Request) -> web.StreamResponse:
        return self._answer(
            request, c.search_results(request.query.get("q", ""), self.profile.routes)
        )

    async def _login(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        await request.read()
        return web.json_response({"ok": True}, headers={"Cache-Control": "private, no-store"})
