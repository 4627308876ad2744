"""`edgelab edge`: the proxy listener (edge/listener.py, httptools) and the admin listener.

    edge = EdgeServer(EdgeConfig(origin="http://127.0.0.1:8080"))
    await edge.start()
    edge.addresses   # {"proxy": "http://127.0.0.1:41231", "admin": "http://127.0.0.1:41232"}
    await edge.stop()

The proxy listener has no routes: every request, whatever its path, goes through the pipeline to
the origin. It is an asyncio protocol of our own on httptools rather than aiohttp's `web.Server`,
which bound a cache hit's cost (issue 3); edge/protocol.py lists what it guarantees hostile
clients. `/healthz`, `/metrics` and `/config` exist only on the admin listener (aiohttp), a
separate socket, so proxied traffic can never reach them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from edgelab.config.edge import EdgeConfig
from edgelab.edge.admin import admin_app
from edgelab.edge.artifacts import ArtifactRegistry
from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.listener import ProxyListener
from edgelab.edge.liveconfig import LiveConfig
from edgelab.edge.metrics import EdgeMetrics
from edgelab.edge.pipeline import Pipeline
from edgelab.edge.protocol import ClientConnection
from edgelab.edge.stages import default_stages
from edgelab.edge.subscriber import ArtifactVersions, Subscriber
from edgelab.edge.upstream import Upstream, make_upstream
from edgelab.errors import ConfigError, UpstreamError
from edgelab.serving import DEFAULT_HOST, DRAIN_TIMEOUT_S, bind_site, is_loopback, url

logger = logging.getLogger(__name__)

ExchangeObserver = Callable[[Exchange, float], None]


class EdgeServer:
    """One POP: config, upstream pool, pipeline, proxy and admin listeners."""

    def __init__(
        self,
        config: EdgeConfig,
        host: str = DEFAULT_HOST,
        port: int = 0,
        admin_host: str = DEFAULT_HOST,
        admin_port: int = 0,
        upstream: Upstream | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.config = config
        self.host, self.port = host, port
        self.admin_host, self.admin_port = admin_host, admin_port
        if admin_token is None and not is_loopback(admin_host):
            raise ConfigError(
                f"edge --admin-host {admin_host}: the admin API is beyond loopback; set --admin-token "
                "(or EDGELAB_ADMIN_TOKEN) so that state-changing calls need it"
            )
        self.admin_token = admin_token
        self.registry = CollectorRegistry()
        self.artifacts = ArtifactRegistry()
        self.metrics = EdgeMetrics(self.registry, config.pop, config.cdn)
        self.upstream: Upstream = upstream or make_upstream(config.origin, config.upstream)
        self.metrics.watch_upstream(self.upstream)
        self.pipeline = Pipeline(default_stages(config, self.upstream, self.artifacts))
        for stage in self.pipeline.stages:  # a stage with metrics counts into this POP's registry
            register_metrics = getattr(stage, "register_metrics", None)
            if register_metrics is not None:
                register_metrics(self.registry)
        self.registry.register(ArtifactVersions(self.artifacts))
        self.live_config = LiveConfig(self)
        self.artifacts.register("edge-config", self.live_config.apply)
        self.subscriber = (
            Subscriber(config.control, config.pop, self.artifacts, self.registry)
            if config.control is not None
            else None
        )
        self.observers: list[ExchangeObserver] = [self.metrics.record, _log_exchange]
        self._listener: ProxyListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._admin_runner: web.AppRunner | None = None

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"proxy": url(self.host, self.port), "admin": url(self.admin_host, self.admin_port)}

    def swap_pipeline(self, pipeline: Pipeline) -> None:
        """Serve new requests with `pipeline`; in-flight requests finish on the old one."""
        self.pipeline = pipeline

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.upstream.open()
        self._listener = ProxyListener(
            self._handle,
            limits=self.config.client,
            pop=self.config.pop,
            on_close=self.metrics.client_closed,
        )
        self.metrics.watch_connections(self._listener)
        self._admin_runner = web.AppRunner(admin_app(self), access_log=None, shutdown_timeout=2.0)
        try:
            self.port = await self._listener.start(
                self.host, self.port, f"edge {self.config.pop} --port"
            )
            await self._admin_runner.setup()
            self.admin_port = await bind_site(
                self._admin_runner,
                self.admin_host,
                self.admin_port,
                f"edge {self.config.pop} --admin-port",
            )
        except BaseException:
            await self.stop()
            raise
        if self.subscriber is not None:
            await self.subscriber.start()

    async def stop(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.stop()
        if self._listener is not None:
            await self._listener.stop(DRAIN_TIMEOUT_S)
            self._listener = None
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self._admin_runner = None
        for stage in self.pipeline.stages:
            close = getattr(stage, "close", None)  # stages with background work (cache refresh)
            if close is not None:
                await close()
        await self.upstream.close()

    def _handle(
        self, request: ClientRequest, out: ClientConnection
    ) -> EdgeResponse | Coroutine[Any, Any, EdgeResponse | None]:
        """Run one request through the pipeline. The response is returned at once when every
        stage answered without waiting (a cache hit: no coroutine); else a coroutine finishes
        it. A whole response is returned for the connection to write (after the observers, as
        one write); a streamed one is sent by the coroutine, which then returns None."""
        loop = self._loop or asyncio.get_running_loop()  # (set by `start`)
        self.metrics.in_flight += 1
        ex = Exchange(request=request, pop=self.config.pop, started_at=loop.time())
        try:
            pending = None
            # A hit has no body: not even the call
            if request.content_length is None or self._reject_early(ex) is None:
                pending = self.pipeline.run_now(ex)
        except BaseException:
            self._finished(ex)
            raise
        resp = ex.response
        if (
            pending is None
            and resp is not None
            and resp.stream is None
            and not ex.notes.get("abandoned")
        ):
            self._finished(ex)
            return resp
        return self._finish(ex, pending, out)

    async def _finish(
        self, ex: Exchange, pending: Awaitable[None] | None, out: ClientConnection
    ) -> EdgeResponse | None:
        """`_handle`'s end for a request that waits: the rest of the pipeline, a streamed
        body, releasing abandoned responses, the observers."""
        try:
            if pending is not None:
                await pending
            resp = ex.response
            assert resp is not None
            if resp.stream is None:
                return resp
            await _stream(out, resp, ex)
            return None
        finally:
            for abandoned in ex.notes.get("abandoned", ()):
                if abandoned.release is not None:
                    await abandoned.release()
            self._finished(ex)

    def _finished(self, ex: Exchange) -> None:
        """The request is done with the pipeline: count it out and tell the observers."""
        self.metrics.in_flight -= 1
        loop = self._loop or asyncio.get_running_loop()
        elapsed = loop.time() - ex.started_at
        for observe in self.observers:
            observe(ex, elapsed)

    def _reject_early(self, ex: Exchange) -> EdgeResponse | None:
        """Requests no stage should see: a body over the limit. (Targets that are not a path
        never get here: the listener refuses them, edge/framing.py.)"""
        req = ex.request
        limit = self.config.client.max_request_body_bytes
        if req.content_length is not None and req.content_length > limit:
            return _plain_error(413, f"request body over {limit} bytes", ex)
        return None


def _plain_error(status: int, reason: str, ex: Exchange) -> EdgeResponse:
    ex.verdict("edge", "reject", reason)
    ex.response = error_response(status, reason, ex)
    ex.response.headers["Connection"] = "close"  # whatever body follows is not worth reading
    return ex.response


async def _stream(out: ClientConnection, resp: EdgeResponse, ex: Exchange) -> None:
    """Stream `resp` to the client; a body the origin breaks off mid-way cuts the connection."""
    try:
        await out.send(resp)
    except UpstreamError as e:
        # Headers are gone already: the only honest signal left is to cut the connection (done
        # by `send`), so the client sees a short body instead of a complete-looking one.
        logger.warning("origin broke off mid-body: %s", e, extra={"request_id": ex.ray_id})
        ex.error = e
        ex.verdict("origin", "error", "truncated body")
    except ConnectionError:
        pass  # the client went away, or the origin sent more than it declared: cut already
    finally:
        if resp.release is not None:
            await resp.release()


def _log_exchange(ex: Exchange, elapsed_s: float) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    status = ex.response.status if ex.response is not None else 0
    logger.info(
        "%s %s %s %d %.1fms %s",
        ex.request.client_ip,
        ex.request.method,
        ex.request.target,
        status,
        elapsed_s * 1000,
        ex.path_taken,
        extra={"request_id": ex.ray_id},
    )
