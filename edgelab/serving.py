"""Plumbing every edgelab server shares: bind, report the port, health, metrics, stop cleanly.

    service = OriginServer(profile)            # anything with start()/stop()/addresses
    asyncio.run(serve_until_signalled(service, "origin", port_file=None))

`bind_site` binds a runner to host:port (port 0 = ephemeral) and returns the port really bound,
turning "address in use" into one `PortInUse` line. `serve_until_signalled` starts a service,
prints where it listens, waits for SIGINT/SIGTERM, and stops it; stopping a runner closes the
listeners first and then drains in-flight requests up to the runner's `shutdown_timeout`.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from edgelab.errors import ConfigError, PortInUse

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
"""Everything listens on loopback unless the user asks otherwise."""

DRAIN_TIMEOUT_S = 10.0
"""How long a stopping server waits for in-flight requests before it closes them."""


class Service(Protocol):
    """A server edgelab can run: started once, stopped once, with named listening addresses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def addresses(self) -> Mapping[str, str]:
        """Listener name -> `http://host:port` (e.g. {"proxy": ..., "admin": ...})."""
        ...


async def bind_site(runner: web.BaseRunner, host: str, port: int, what: str) -> int:
    """Bind `runner` on host:port and return the bound port; raises PortInUse or ConfigError."""
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except OSError as e:
        raise bind_error(e, host, port, what) from e
    server = site._server  # aiohttp keeps the asyncio server here; no public accessor
    assert server is not None
    sockets = server.sockets  # type: ignore[attr-defined]
    bound: int = sockets[0].getsockname()[1]
    return bound


async def listen(
    factory: Callable[[], asyncio.BaseProtocol], host: str, port: int, what: str
) -> tuple[asyncio.AbstractServer, int]:
    """`loop.create_server` for a protocol of our own (the edge's proxy listener), with the
    same errors and backlog as `bind_site`; returns the server and the bound port."""
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(factory, host, port, backlog=1024, reuse_address=True)
    except OSError as e:
        raise bind_error(e, host, port, what) from e
    bound: int = server.sockets[0].getsockname()[1]
    return server, bound


def bind_error(e: OSError, host: str, port: int, what: str) -> PortInUse | ConfigError:
    """The one-line error for a failed bind (`what` names the flag: `edge pop-1 --port`)."""
    if e.errno == errno.EADDRINUSE:
        return PortInUse(f"{what}: {host}:{port} is already in use (choose another port or 0)")
    reason = e.strerror or str(e)
    return ConfigError(f"{what}: cannot listen on {host}:{port}: {reason}")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url(host: str, port: int) -> str:
    """`http://host:port`, with IPv6 hosts bracketed."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def metrics_response(registry: CollectorRegistry) -> web.Response:
    """The Prometheus text exposition of one server's own registry."""
    resp = web.Response(body=generate_latest(registry))
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def observability_routes(registry: CollectorRegistry, component: str) -> list[web.RouteDef]:
    """`/healthz` and `/metrics` for a `web.Application`."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "component": component})

    async def metrics(_: web.Request) -> web.Response:
        return metrics_response(registry)

    return [web.get("/healthz", healthz), web.get("/metrics", metrics)]


def install_uvloop() -> None:
    """Use uvloop where it exists (Linux, macOS); asyncio's loop elsewhere."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platform without uvloop
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def serve_until_signalled(
    service: Service, component: str, port_file: Path | None = None
) -> None:
    """Start `service`, announce it, wait for SIGINT/SIGTERM, stop it gracefully.

    Announces on stdout one line per listener (`edgelab origin listening on http://...`), and
    writes the addresses as JSON to `port_file` when given, so supervisors need not parse logs.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        try:
            if port_file is not None:
                tmp = port_file.with_suffix(port_file.suffix + ".tmp")
                tmp.write_text(json.dumps(dict(service.addresses)))
                tmp.replace(port_file)
            for name, address in service.addresses.items():
                print(f"edgelab {component} {name} listening on {address}", flush=True)
            await stop.wait()
            logger.info("%s: stopping, draining in-flight requests", component)
        finally:
            await service.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_service(service: Service, component: str, port_file: Path | None = None) -> None:
    """Blocking entry point for the CLI: uvloop, serve until signalled, exit 0."""
    install_uvloop()
    asyncio.run(serve_until_signalled(service, component, port_file))
    sys.stdout.flush()
