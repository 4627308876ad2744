"""Start our own servers on ephemeral loopback ports and always stop them.

    async with running(OriginServer(OriginProfile())) as origin:
        async with running(EdgeServer(EdgeConfig(origin=origin.addresses["http"]))) as edge:
            ...  # edge.addresses["proxy"]

    # the same servers as separate processes (benchmarks: one process = one core's worth)
    async with running_process("origin", "--profile", "fast.yaml") as origin:
        origin.addresses["http"]

Used by the test fixtures and the benchmarks; the servers are the real ones, not stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from edgelab.serving import Service

S = TypeVar("S", bound=Service)

START_TIMEOUT_S = 30.0
"""How long a server process may take to announce its addresses (a busy machine is slow)."""

ADMIN_PORT_COMMANDS = frozenset({"edge", "origin"})
"""Commands with a separate admin listener, whose port must be ephemeral too."""

STOP_TIMEOUT_S = 15.0
"""How long a server process may drain after SIGTERM before it is killed."""


@asynccontextmanager
async def running(service: S) -> AsyncIterator[S]:
    """Start `service`, yield it, stop it on the way out (also on error and cancellation)."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@dataclass
class ServerProcess:
    """An `edgelab <command>` child process and where it listens."""

    process: asyncio.subprocess.Process
    addresses: Mapping[str, str]
    """Listener name -> `http://host:port`, from the process's `--port-file`."""
    log_path: Path
    """The process's stderr (its log), kept for a look after a failure."""


@asynccontextmanager
async def running_process(command: str, *args: str) -> AsyncIterator[ServerProcess]:
    """Run `python -m edgelab <command> --port 0 ... <args>`, yield it, SIGTERM it at the end.

    `--host 127.0.0.1 --port 0 --port-file` are added (and `--admin-port 0` for the commands
    that have an admin listener); `args` may override none of those. Raises RuntimeError if the process exits before it listens.
    """
    with tempfile.TemporaryDirectory(prefix=f"edgelab-{command}-") as tmp:
        port_file = Path(tmp) / "ports.json"
        log_path = Path(tmp) / "stderr.log"
        extra = ["--admin-port", "0"] if command in ADMIN_PORT_COMMANDS else []
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "edgelab",
                command,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                *extra,
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        drain: asyncio.Task[None] | None = None
        try:
            assert proc.stdout is not None
            # The port file is written before the first "listening on" line is printed.
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
            if not line:
                await proc.wait()
                raise RuntimeError(
                    f"edgelab {command} exited with {proc.returncode} before listening: "
                    + log_path.read_text(errors="replace").strip()[-2000:]
                )
            drain = asyncio.create_task(_drain(proc.stdout))
            addresses = json.loads(port_file.read_text())
            yield ServerProcess(proc, addresses, log_path)
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read a child's stdout to the end, so it never blocks on a full pipe."""
    while await stream.read(65536):
        pass
