"""The real processes: announce where they listen, stop cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest


async def start(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgelab",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines = []
    expected = 2  # origin: http + admin; edge: proxy + admin
    while len(lines) < expected:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, "process exited before announcing its address"
        lines.append(line.strip())
    return proc, lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_origin_and_edge_processes_stop_on_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port_file = tmp_path / "origin.json"
    origin, lines = await start(
        "origin", "--port", "0", "--admin-port", "0", "--port-file", str(port_file)
    )
    edge = None
    try:
        origin_url = lines[0].rsplit(" ", 1)[1]
        assert json.loads(port_file.read_text())["http"] == origin_url
        edge, edge_lines = await start(
            "edge", "--origin", origin_url, "--port", "0", "--admin-port", "0"
        )
        proxy = edge_lines[0].rsplit(" ", 1)[1]
        async with aiohttp.ClientSession() as http, http.get(f"{proxy}/static/x.css") as r:
            assert r.status == 200
    finally:
        for proc in (edge, origin):
            if proc is not None and proc.returncode is None:
                proc.send_signal(sig)
        codes = [await asyncio.wait_for(p.wait(), 30) for p in (edge, origin) if p is not None]
    assert codes == [0, 0]
