"""Plain TCP upstreams for the fault proxy's tests and benchmarks, on 127.0.0.1:0.

    async with running(EchoServer()) as echo:
        echo.address            # "127.0.0.1:41235", what a Toxiproxy `upstream` wants
        echo.received           # bytes read so far, over all connections

`EchoServer` writes back what it reads and closes when its client closes (toxiproxy's
`testhelper/upstream.go` echo). `closed_port()` gives a port nothing listens on, for
"upstream unreachable".
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping


class EchoServer:
    """A TCP echo server; records every read's size in `reads` when `record` is set."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, record: bool = False) -> None:
        self.host, self.port = host, port
        self.record = record
        self.received = 0
        """Bytes read, over all connections."""
        self.reads: list[bytes] = []
        """Each read's bytes, in order (only with `record`)."""
        self.connections = 0
        """Connections accepted."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"tcp": self.address}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while data := await reader.read(256 * 1024):
                self.received += len(data)
                if self.record:
                    self.reads.append(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port that was just free on `host`: connecting to it is refused (barring races)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
