"""`edgelab steer`: active health checks of every target URL, and `GET /resolve`.

    server = SteeringServer(config)
    await server.start()
    server.addresses["http"]                  # GET {it}/resolve?service=www
    await server.wait_for(url, "down", timeout_s=10)
    await server.stop()

Routes: `/resolve?service=NAME` -> `{"service", "target", "urls", "ttl_s", "healthy"}`;
`/status` -> every URL's state and every transition so far; `/healthz`, `/metrics`. Each URL
has one checker task (started with the app, cancelled on stop) that requests `health.path`
through the target with one shared ClientSession, feeds the status to the pure state machine
(`edgelab.steering.health`), logs and counts every transition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from edgelab.serving import DEFAULT_HOST, bind_site, observability_routes, url
from edgelab.steering.choose import choose
from edgelab.steering.config import SteeringConfig
from edgelab.steering.health import Health, HealthState, Transition, observe

logger = logging.getLogger(__name__)

SESSION = web.AppKey("session", aiohttp.ClientSession)


class SteeringMetrics:
    """The steering service's Prometheus series, in its own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "edgelab_steering_target_up",
            "1 while a target URL is considered up",
            ["target", "url"],
            registry=registry,
        )
        self.transitions = Counter(
            "edgelab_steering_transitions",
            "Health state changes of a target URL",
            ["target", "url", "to"],
            registry=registry,
        )
        self.last_change = Gauge(
            "edgelab_steering_last_transition_timestamp_seconds",
            "When a target URL last changed state (epoch seconds)",
            ["target", "url"],
            registry=registry,
        )
        self.checks = Counter(
            "edgelab_steering_checks",
            "Health checks made, by result",
            ["target", "url", "result"],
            registry=registry,
        )
        self.resolves = Counter(
            "edgelab_steering_resolves",
            "Answers given, by service, target and whether it was healthy",
            ["service", "target", "healthy"],
            registry=registry,
        )


class SteeringServer:
    """The steering process: health state per URL, checker tasks, one listener."""

    def __init__(
        self,
        config: SteeringConfig,
        host: str = DEFAULT_HOST,
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.host, self.port = host, port
        self.clock = clock
        self.registry = CollectorRegistry()
        self.metrics = SteeringMetrics(self.registry)
        self.states: dict[str, HealthState] = {u: HealthState() for u in config.urls()}
        self.transitions: list[Transition] = []
        """Every state change since start, in order."""
        self._names = {u: t.name for ts in config.services.values() for t in ts for u in t.urls}
        for u in self.states:
            self.metrics.up.labels(self._names[u], u).set(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"http": url(self.host, self.port)}

    def is_up(self, target_url: str) -> bool:
        return self.states[target_url].status == "up"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        try:
            self.port = await bind_site(self._runner, self.host, self.port, "steer --port")
        except BaseException:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, target_url: str, status: Health, timeout_s: float) -> Transition:
        """Wait until `target_url` is `status`; returns the transition that made it so.

        Raises TimeoutError after `timeout_s`, and KeyError for a URL steering does not check.
        """
        if target_url not in self.states:
            raise KeyError(target_url)

        def reached() -> bool:
            return self.states[target_url].status == status

        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(reached)
        return next(t for t in reversed(self.transitions) if t.url == target_url and t.to == status)

    # -- app -------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(observability_routes(self.registry, "steer"))
        app.add_routes([web.get("/resolve", self._resolve), web.get("/status", self._status)])
        app.cleanup_ctx.append(self._checkers)
        return app

    async def _checkers(self, app: web.Application) -> AsyncIterator[None]:
        health = self.config.health
        timeout = aiohttp.ClientTimeout(total=health.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, headers=health.headers) as session:
            app[SESSION] = session
            tasks = [asyncio.create_task(self._check_forever(session, u)) for u in self.states]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _check_forever(self, session: aiohttp.ClientSession, target_url: str) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.health.interval_s
        while True:
            started = loop.time()
            status = await self._check_once(session, target_url)
            await self._record(target_url, status)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def _check_once(self, session: aiohttp.ClientSession, target_url: str) -> int:
        try:
            async with session.get(target_url + self.config.health.path) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.debug("check %s: %s", target_url, e)
            return 0

    async def _record(self, target_url: str, status: int) -> None:
        now = self.clock()
        name = self._names[target_url]
        state, change = observe(
            self.states[target_url], status, now, self.config.health, target_url
        )
        self.states[target_url] = state
        ok = state.fail_streak == 0
        self.metrics.checks.labels(name, target_url, "pass" if ok else "fail").inc()
        if change is None:
            return
        self.transitions.append(change)
        self.metrics.up.labels(name, target_url).set(1 if change.to == "up" else 0)
        self.metrics.transitions.labels(name, target_url, change.to).inc()
        self.metrics.last_change.labels(name, target_url).set(change.at)
        log = logger.warning if change.to == "down" else logger.info
        log("target %s %s is %s: %s", name, target_url, change.to, change.reason)
        async with self._changed:
            self._changed.notify_all()

    async def _resolve(self, request: web.Request) -> web.Response:
        service = request.query.get("service", "")
        targets = self.config.services.get(service)
        if targets is None:
            known = ", ".join(sorted(self.config.services)) or "none"
            return web.json_response(
                {"error": f"unknown service {service!r} (known: {known})"}, status=404
            )
        answer = choose(service, targets, self.is_up, self.config.ttl_s)
        self.metrics.resolves.labels(service, answer.target, str(answer.healthy).lower()).inc()
        return web.json_response(answer.to_json())

    async def _status(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "targets": {
                    u: {
                        "target": self._names[u],
                        "status": s.status,
                        "since": s.since,
                        "checks": s.checks,
                        "recent": list(s.recent),
                    }
                    for u, s in self.states.items()
                },
                "transitions": [asdict(t) for t in self.transitions],
            }
        )
