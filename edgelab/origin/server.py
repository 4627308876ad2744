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

from edgelab.origin import content as c
from edgelab.origin.capacity import CapacityGate, ServiceTimeModel, Shed
from edgelab.origin.profile import OriginProfile
from edgelab.serving import DEFAULT_HOST, DRAIN_TIMEOUT_S, bind_site, observability_routes, url

logger = logging.getLogger(__name__)

ATTACK_MARKER = "X-Edgelab-Attack"
"""Header the load tests put on malicious requests; the WAF never reads it, the origin counts it."""


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


def route_class(path: str) -> str:
    """A low-cardinality label for a path: static, page, api, search, login or other."""
    for prefix, name in (("/static/", "static"), ("/page/", "page"), ("/api/", "api")):
        if path.startswith(prefix):
            return name
    if path == "/search":
        return "search"
    if path == "/login":
        return "login"
    return "other"


class OriginServer:
    """The origin process: routes, capacity gate, metrics, one listener."""

    def __init__(self, profile: OriginProfile, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.profile = profile
        self.host = host
        self.port = port
        self.registry = CollectorRegistry()
        cap = profile.capacity
        self.gate = CapacityGate(cap.workers, cap.queue, cap.queue_timeout_s)
        self.service_time = ServiceTimeModel.from_profile(cap.service_time)
        self.rng = random.Random(profile.seed)
        self.metrics = OriginMetrics(self.registry, self.gate, cap.workers)
        self.started_at = time.time()
        self._runner: web.AppRunner | None = None
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
        return {"http": url(self.host, self.port)}

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=DRAIN_TIMEOUT_S)
        await self._runner.setup()
        try:
            self.port = await bind_site(self._runner, self.host, self.port, "origin")
        except BaseException:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
                    resp = await handler(request)
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
