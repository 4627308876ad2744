"""`edgelab edge`: the proxy listener (a low-level `web.Server`) and the admin listener.

    edge = EdgeServer(EdgeConfig(origin="http://127.0.0.1:8080"))
    await edge.start()
    edge.addresses   # {"proxy": "http://127.0.0.1:41231", "admin": "http://127.0.0.1:41232"}
    await edge.stop()

The proxy listener has no routes: every request, whatever its path, goes through the pipeline to
the origin. `/healthz`, `/metrics` and `/config` exist only on the admin listener, a separate
socket, so proxied traffic can never reach them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.web_exceptions import HTTPException
from prometheus_client import CollectorRegistry

from edgelab.config.edge import ClientLimits, EdgeConfig
from edgelab.edge.admin import admin_app
from edgelab.edge.artifacts import ArtifactRegistry
from edgelab.edge.body import ClientBody
from edgelab.edge.errorpage import error_page
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.liveconfig import LiveConfig
from edgelab.edge.metrics import EdgeMetrics
from edgelab.edge.pipeline import Pipeline
from edgelab.edge.protocol import EdgeHttpServer, EdgeRequestHandler, peer_ip
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
        self._proxy_runner: web.ServerRunner | None = None
        self._admin_runner: web.AppRunner | None = None

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"proxy": url(self.host, self.port), "admin": url(self.admin_host, self.admin_port)}

    def swap_pipeline(self, pipeline: Pipeline) -> None:
        """Serve new requests with `pipeline`; in-flight requests finish on the old one."""
        self.pipeline = pipeline

    async def start(self) -> None:
        await self.upstream.open()
        limits = self.config.client
        server = EdgeHttpServer(
            self._handle,
            limits=limits,
            pop=self.config.pop,
            on_close=self.metrics.client_closed,
            access_log=None,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            keepalive_timeout=limits.keepalive_s,
        )
        self.metrics.watch_connections(server)
        self._proxy_runner = web.ServerRunner(server, shutdown_timeout=DRAIN_TIMEOUT_S)
        self._admin_runner = web.AppRunner(admin_app(self), access_log=None, shutdown_timeout=2.0)
        try:
            await self._proxy_runner.setup()
            await self._admin_runner.setup()
            self.port = await bind_site(
                self._proxy_runner, self.host, self.port, f"edge {self.config.pop} --port"
            )
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
        if self._proxy_runner is not None:
            await self._proxy_runner.cleanup()
            self._proxy_runner = None
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self._admin_runner = None
        for stage in self.pipeline.stages:
            close = getattr(stage, "close", None)  # stages with background work (cache refresh)
            if close is not None:
                await close()
        await self.upstream.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.metrics.in_flight += 1
        ex = Exchange(
            request=_client_request(request, self.config.client),
            pop=self.config.pop,
            started_at=started,
        )
        try:
            rejected = self._reject_early(ex)
            if rejected is not None:
                return rejected
            await self.pipeline.run(ex)
            assert ex.response is not None
            return await _write(request, ex.response, ex)
        finally:
            self.metrics.in_flight -= 1
            for abandoned in ex.notes.get("abandoned", ()):
                if abandoned.release is not None:
                    await abandoned.release()
            elapsed = loop.time() - started
            for observe in self.observers:
                observe(ex, elapsed)

    def _reject_early(self, ex: Exchange) -> web.StreamResponse | None:
        """Requests no stage should see: a non-origin-form target, a body over the limit."""
        req = ex.request
        if not req.path.startswith("/"):
            return _plain_error(400, "request target must be a path", ex)
        limit = self.config.client.max_request_body_bytes
        if req.content_length is not None and req.content_length > limit:
            return _plain_error(413, f"request body over {limit} bytes", ex)
        return None


def _client_request(request: web.BaseRequest, limits: ClientLimits) -> ClientRequest:
    proto = request.protocol
    client_ip = (
        proto.client_ip
        if isinstance(proto, EdgeRequestHandler)
        else peer_ip(request.transport.get_extra_info("peername") if request.transport else None)
    )
    path, _, query = request.raw_path.partition("?")
    headers = request.headers
    length = request.content_length
    body = None
    if length or "Transfer-Encoding" in headers:  # else there is no body (RFC 9112 §6.3)
        body = ClientBody(
            request.content,
            limits.max_request_body_bytes,
            limits.body_timeout_s,
            request.writer
            if headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1)
            else None,
        )
    return ClientRequest(
        method=request.method,
        path=path,
        query_string=query,
        headers=headers,
        client_ip=client_ip,
        scheme=request.scheme,
        host=headers.get("Host", ""),
        body_stream=body,
        content_length=length,
    )


def _plain_error(status: int, reason: str, ex: Exchange) -> web.Response:
    ex.response = EdgeResponse(status=status)
    ex.verdict("edge", "reject", reason)
    resp = web.Response(
        status=status,
        body=error_page(status, reason, ex.pop, ex.ray_id or "-"),
        content_type="text/html",
    )
    resp.force_close()  # whatever body follows is not worth reading
    return resp


async def _write(request: web.BaseRequest, resp: EdgeResponse, ex: Exchange) -> web.StreamResponse:
    """Send `resp` to the client; a body the origin breaks off mid-way closes the connection."""
    if resp.stream is None:
        whole = web.Response(status=resp.status, headers=resp.headers, body=resp.body)
        if resp.headers.get("Connection") == "close":
            whole.force_close()  # a rejected request: the rest of its body stays unread
        return whole
    out = web.StreamResponse(status=resp.status, headers=resp.headers)
    if resp.content_length is not None:
        out.content_length = resp.content_length
    try:
        await out.prepare(request)
        async for chunk in resp.stream:
            await out.write(chunk)
        await out.write_eof()
    except UpstreamError as e:
        # Headers are gone already: the only honest signal left is to cut the connection, so the
        # client sees a short body instead of a complete-looking one.
        logger.warning("origin broke off mid-body: %s", e, extra={"request_id": ex.ray_id})
        ex.error = e
        ex.verdict("origin", "error", "truncated body")
        out.force_close()
        if request.transport is not None:
            request.transport.close()
    except (ConnectionResetError, HTTPException):
        out.force_close()
    finally:
        if resp.release is not None:
            await resp.release()
    return out


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
