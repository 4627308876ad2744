"""The edge's proxy listener: the socket, its connections, the connection cap and graceful stop.

    listener = ProxyListener(edge._handle, limits=ClientLimits(), pop="pop-1",
                             on_close=metrics.client_closed)
    port = await listener.start("127.0.0.1", 0, "edge pop-1 --port")
    listener.open_connections, listener.evicted, listener.refused, listener.head_timeouts
    await listener.stop()      # stop accepting, finish in-flight requests, close the rest

Each accepted socket is a `ClientConnection` (edge/protocol.py: parsing, deadlines, writing);
this module keeps what is shared between them. The handler gets each request as a
`ClientRequest` and the connection it came on, and returns the `EdgeResponse` to write (or None
when it streamed the response itself with `connection.send`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, cast

from edgelab.config.edge import ClientLimits
from edgelab.edge.exchange import ClientRequest, EdgeResponse
from edgelab.edge.protocol import ClientConnection
from edgelab.serving import DRAIN_TIMEOUT_S, listen

logger = logging.getLogger(__name__)

Handler = Callable[
    [ClientRequest, ClientConnection], EdgeResponse | Coroutine[Any, Any, EdgeResponse | None]
]
"""An `async def`, or a plain function that returns the response when it has it at once (a
cache hit) and a coroutine otherwise (the connection may run its first step itself)."""


class ProxyListener:
    """The proxy port: accepts client connections under a cap and counts what it refuses."""

    def __init__(
        self,
        handler: Handler,
        *,
        limits: ClientLimits,
        pop: str,
        on_close: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.pop = pop
        """Named on the edge's own error pages."""
        self.on_close = on_close
        """Called with the reason (`head_timeout`, `evicted`, `refused`) of each protective close."""
        self.loop = asyncio.get_running_loop()
        self.open_connections = 0
        self.evicted = 0
        """Connections closed to make room for a new one (the longest waiting for a head)."""
        self.refused = 0
        """New connections answered 503 because every open one was busy with a request."""
        self.head_timeouts = 0
        """Connections closed because no complete request head arrived in time."""
        self.waiting: dict[ClientConnection, None] = {}
        """Connections waiting for a request head, longest-waiting first (insertion order)."""
        self.connections: set[ClientConnection] = set()
        """Every open connection (also lingering and refused ones), for `stop`."""
        self.stopping = False
        """Set by `stop`: responses say `Connection: close`, idle connections are closed."""
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int, what: str) -> int:
        """Listen on host:port; returns the bound port. Raises PortInUse or ConfigError."""
        self._server, bound = await listen(self._connection, host, port, what)
        return bound

    def _connection(self) -> asyncio.BaseProtocol:
        # A protocol by its methods, not by its base class (see ClientConnection)
        return cast(asyncio.BaseProtocol, ClientConnection(self))

    def admit(self, newcomer: ClientConnection) -> bool:
        """Count `newcomer` and make room for it under the cap; False if there is none to make.

        At most `max_connections` client connections. One over the cap pushes out the
        connection that has been waiting longest for a request head (idle keep-alive or
        half-sent); only when every connection is busy with a request is the newcomer refused
        (503). A flood of idle sockets therefore costs the flooder its own sockets, not other
        clients their service.
        """
        self.open_connections += 1
        if self.open_connections <= self.limits.max_connections:
            return True
        for victim in self.waiting:
            if victim is not newcomer:
                self.evicted += 1
                self.on_close("evicted")
                victim.drop("evicted: connection cap reached and it was the longest idle")
                return True
        self.refused += 1
        self.on_close("refused")
        return False

    async def stop(self, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Stop accepting; let requests in flight finish within `drain_timeout_s` (their
        responses close the connection); close idle connections now and the rest after."""
        self.stopping = True
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            if not conn.busy:
                conn.drop(None)
        busy = [conn.task for conn in self.connections if conn.busy and conn.task is not None]
        if busy:
            _, late = await asyncio.wait(busy, timeout=drain_timeout_s)
            for task in late:
                task.cancel()
            if late:
                logger.warning("stopping: %d requests still in flight were cut off", len(late))
                await asyncio.wait(late)
        tasks = [conn.task for conn in self.connections if conn.task is not None]
        for conn in list(self.connections):
            conn.cut()  # its connection_lost ends its task
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=1.0)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck)
        if server is not None:
            await server.wait_closed()
