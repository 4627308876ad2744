"""Fixtures: real origins and edges on 127.0.0.1 ephemeral ports, stopped at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import aiohttp
import pytest

from edgelab.config.edge import EdgeConfig
from edgelab.edge.server import EdgeServer
from edgelab.origin.profile import OriginProfile
from edgelab.origin.server import OriginServer
from edgelab.testing.servers import running

OriginFactory = Callable[..., Awaitable[OriginServer]]

EdgeFactory = Callable[..., Awaitable[EdgeServer]]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Never test an old build: Python imports a compiled module before its source."""
    from edgelab.compiled import stale_compiled_modules

    stale = stale_compiled_modules()
    if stale:
        pytest.exit(f"{', '.join(stale)} changed after it was compiled: run `make compile`", 2)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


@pytest.fixture
def make_origin(stack: AsyncExitStack) -> OriginFactory:
    """Start an origin with the given profile (fields as keyword overrides of the default)."""

    async def make(profile: OriginProfile | None = None) -> OriginServer:
        return await stack.enter_async_context(
            running(OriginServer(profile or OriginProfile(seed=1)))
        )

    return make


@pytest.fixture
def make_edge(stack: AsyncExitStack) -> EdgeFactory:
    """Start an edge in front of `origin_url` with the given config overrides."""

    async def make(origin_url: str, **overrides: object) -> EdgeServer:
        config = EdgeConfig.model_validate({"origin": origin_url, **overrides})
        return await stack.enter_async_context(running(EdgeServer(config)))

    return make


@pytest.fixture
async def origin(make_origin: OriginFactory) -> OriginServer:
    return await make_origin(
        OriginProfile.model_validate(
            {"seed": 1, "capacity": {"service_time": {"distribution": "fixed", "mean_ms": 0}}}
        )
    )


@pytest.fixture
async def edge(make_edge: EdgeFactory, origin: OriginServer) -> EdgeServer:
    return await make_edge(origin.addresses["http"])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client that does not decompress, so tests see bytes as sent."""
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        yield s
