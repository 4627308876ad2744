"""One TCP proxy: a listener on `listen`, and for each client a connection to `upstream`.

    proxy = Proxy("redis", listen="127.0.0.1:0", upstream="127.0.0.1:6379", rng=Random(1))
    await proxy.start()        # proxy.listen is now the bound address, e.g. 127.0.0.1:41233
    await proxy.toxics.add({"type": "latency", "attributes": {"latency": 100}})
    await proxy.stop()         # listener closed, every connection dropped

Each accepted client gets a dial to `upstream` (if it fails, the client is closed at once, as
toxiproxy's `proxy.go` does) and two links, one per direction, that run the proxy's toxics.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from typing import Any

from edgelab.faultproxy.chain import ToxicCollection
from edgelab.faultproxy.errors import ListenError
from edgelab.faultproxy.link import Link
from edgelab.faultproxy.sockets import Side
from edgelab.faultproxy.stream import Direction

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
"""How long a client waits for the dial to `upstream` before it is closed."""

CLOSE_WAIT_S = 5.0
"""How long stopping a proxy waits for its listener and connections to be gone."""


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port), like Go's net.SplitHostPort.

    Raises ValueError with Go's wording (`address x: missing port in address`).
    """
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    try:
        number = int(port) if port else 0
    except ValueError:
        raise ValueError(f"address {address}: invalid port") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"address {address}: invalid port")
    return host, number


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def resolve(address: str) -> tuple[str, int]:
    """The (ip, port) a listen address means; IPv4 first, as Go prefers it.

    An empty host is loopback here (Toxiproxy would listen on every interface; edgelab listens
    beyond 127.0.0.1 only when asked by address). Raises ListenError.
    """
    try:
        host, port = split_host_port(address)
    except ValueError as e:
        raise ListenError(f"listen tcp: {e}") from e
    if not host:
        return "127.0.0.1", port
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ListenError(f"listen tcp: lookup {host}: no such host") from e
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    ip = str(infos[0][4][0])
    return ip, port


class ProxyStats:
    """Totals of connections that have ended; live ones are added at scrape time."""

    def __init__(self) -> None:
        self.connections = 0
        """Connections accepted and dialled through to upstream."""
        self.received = {d: 0 for d in Direction}
        """Bytes read from the source of each direction (client for upstream)."""
        self.sent = {d: 0 for d in Direction}
        """Bytes written to the destination of each direction."""


class Connection:
    """A client socket, its upstream socket and the two links between them."""

    def __init__(self, proxy: Proxy, client: Side) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: Side | None = None
        self.links: dict[Direction, Link] = {}
        self.opening: asyncio.Task[None] | None = None
        self._lost = 0

    async def open(self) -> None:
        """Dial upstream and start both links; on failure close the client."""
        proxy, loop = self.proxy, asyncio.get_running_loop()
        try:
            host, port = split_host_port(proxy.upstream)
            _, up = await asyncio.wait_for(
                loop.create_connection(lambda: Side(loop), host or "127.0.0.1", port),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError, ValueError) as e:
            logger.info("proxy %s: cannot reach upstream %s: %s", proxy.name, proxy.upstream, e)
            self.client.close()
            return
        self.upstream = up
        up.on_lost = self._side_lost
        if up.closing or self.client.closing:
            self.abort()
            return
        rng = proxy.rng
        for direction, dest in ((Direction.upstream, up), (Direction.downstream, self.client)):
            link_rng = random.Random(rng.getrandbits(64))
            link = Link(direction, proxy.toxics.chain(direction), dest, link_rng, self.reset)
            self.links[direction] = link
            proxy.toxics.register(link)
            link.start()
        proxy.stats.connections += 1
        self.client.attach(self.links[Direction.upstream].input)
        up.attach(self.links[Direction.downstream].input)

    def reset(self) -> None:
        """Close both sockets with a TCP RST (reset_peer)."""
        for side in (self.client, self.upstream):
            if side is not None:
                side.abort(reset=True)

    def abort(self) -> None:
        """Drop the connection now (proxy disabled, updated or deleted)."""
        if self.opening is not None:
            self.opening.cancel()
        for link in self.links.values():
            link.stop()
        for side in (self.client, self.upstream):
            if side is not None:
                side.abort()

    def _side_lost(self, side: Side) -> None:
        if self.upstream is None:
            if self.opening is not None:
                self.opening.cancel()
        elif not self.upstream.lost:
            return
        if self.client.lost:
            self._finish()

    def _finish(self) -> None:
        proxy = self.proxy
        if self not in proxy.connections:
            return
        proxy.connections.discard(self)
        for direction, link in self.links.items():
            link.stop()
            proxy.toxics.unregister(link)
            proxy.stats.sent[direction] += link.sent
        proxy.stats.received[Direction.upstream] += self.client.received
        if self.upstream is not None:
            proxy.stats.received[Direction.downstream] += self.upstream.received

    def live_bytes(self) -> tuple[dict[Direction, int], dict[Direction, int]]:
        """(received, sent) per direction so far, for a connection still open."""
        received = {
            Direction.upstream: self.client.received,
            Direction.downstream: self.upstream.received if self.upstream else 0,
        }
        sent = {d: (self.links[d].sent if d in self.links else 0) for d in Direction}
        return received, sent


class Proxy:
    """A named TCP proxy with its toxics (toxiproxy `proxy.go`)."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen = listen
        """As given until started; then the address really bound (`127.0.0.1:41233`)."""
        self.upstream = upstream
        self.enabled = False
        self.rng = rng
        """Seeds each connection's generator: toxicity rolls, jitter, slicing."""
        self.toxics = ToxicCollection()
        self.stats = ProxyStats()
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's proxy JSON, key order as it emits it, with the active toxics."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [spec.to_json() for spec in self.toxics.all()],
        }

    async def start(self) -> None:
        """Listen on `listen` (no-op when enabled); raises ListenError with Go's wording."""
        if self.enabled:
            return
        loop = asyncio.get_running_loop()
        host, port = await resolve(self.listen)
        try:
            self._server = await loop.create_server(
                self._protocol, host, port, backlog=1024, reuse_address=True
            )
        except OSError as e:
            reason = "address already in use" if e.errno == errno.EADDRINUSE else e.strerror
            raise ListenError(
                f"listen tcp {join_host_port(host, port)}: bind: {(reason or str(e)).lower()}"
            ) from e
        bound = self._server.sockets[0].getsockname()
        self.listen = join_host_port(host, int(bound[1]))
        self.enabled = True
        logger.info("proxy %s: listening on %s -> %s", self.name, self.listen, self.upstream)

    async def stop(self) -> None:
        """Close the listener and drop every connection (toxics stay)."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.abort()
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), CLOSE_WAIT_S)
            except TimeoutError:  # pragma: no cover - a socket that will not close
                logger.warning("proxy %s: connections still closing", self.name)
        logger.info("proxy %s: stopped", self.name)

    async def differs(self, listen: str, upstream: str) -> bool:
        """Whether an update to (listen, upstream) needs a restart (toxiproxy `Differs`)."""
        if upstream != self.upstream:
            return True
        if listen == self.listen:
            return False
        return await resolve(listen) != await resolve(self.listen)

    def _protocol(self) -> Side:
        side = Side(asyncio.get_running_loop())
        side.on_made = self._accepted
        return side

    def _accepted(self, client: Side) -> None:
        assert client.transport is not None
        client.transport.pause_reading()
        conn = Connection(self, client)
        client.on_lost = conn._side_lost
        self.connections.add(conn)
        conn.opening = asyncio.get_running_loop().create_task(conn.open())

    def totals(self) -> tuple[int, dict[Direction, int], dict[Direction, int]]:
        """(connections, received, sent) including live connections, for metrics."""
        received = dict(self.stats.received)
        sent = dict(self.stats.sent)
        for conn in self.connections:
            r, s = conn.live_bytes()
            for d in Direction:
                received[d] += r[d]
                sent[d] += s[d]
        return self.stats.connections, received, sent
