"""Our servers as child processes: addresses from the port file, stopped at the end."""

from __future__ import annotations

import aiohttp
import pytest

from edgelab.testing.servers import running_process


async def test_running_process_yields_addresses_and_stops_it() -> None:
    async with running_process("origin", "--log-level", "warning") as origin:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{origin.addresses['http']}/healthz") as r,
        ):
            assert (await r.json())["component"] == "origin"
    assert origin.process.returncode == 0


async def test_a_process_that_cannot_start_is_reported() -> None:
    with pytest.raises(RuntimeError, match="before listening"):
        async with running_process("origin", "--profile", "/nonexistent/origin.yaml"):
            pass
