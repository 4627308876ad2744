"""Start our own servers on ephemeral loopback ports and always stop them.

    async with running(OriginServer(OriginProfile())) as origin:
        async with running(EdgeServer(EdgeConfig(origin=origin.addresses["http"]))) as edge:
            ...  # edge.addresses["proxy"]

Used by the test fixtures and the benchmarks; the servers are the real ones, not stand-ins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from edgelab.serving import Service

S = TypeVar("S", bound=Service)


@asynccontextmanager
async def running(service: S) -> AsyncIterator[S]:
    """Start `service`, yield it, stop it on the way out (also on error and cancellation)."""
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
