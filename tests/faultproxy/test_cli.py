"""`edgelab toxiproxy` as a process: --config in Toxiproxy's format, port file, clean stop."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from edgelab.cli import main
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Connect, round_trip


async def test_process_with_config(tmp_path: Path, echo: EchoServer, connect: Connect) -> None:
    config = tmp_path / "toxiproxy.json"
    config.write_text(
        json.dumps([{"name": "echo", "listen": "127.0.0.1:0", "upstream": echo.address}])
    )
    port_file = tmp_path / "ports.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgelab",
        "toxiproxy",
        "--port",
        "0",
        "--config",
        str(config),
        "--port-file",
        str(port_file),
        "--seed",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("edgelab toxiproxy api listening on http://127.0.0.1:")
        api = line.rsplit(" ", 1)[1]
        assert json.loads(port_file.read_text()) == {"api": api}
        async with aiohttp.ClientSession() as http, http.get(f"{api}/proxies/echo") as r:
            proxy = await r.json()
        assert proxy["enabled"] is True
        await round_trip(await connect(proxy["listen"]))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


def test_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"name": "x"}]))
    for path, reason in [
        (broken, "invalid JSON"),
        (missing, "missing required field: upstream at proxy 1"),
        (tmp_path / "absent.json", "no such file"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(["toxiproxy", "--port", "0", "--config", str(path)])
        err = capsys.readouterr().err
        assert info.value.code == 2
        assert err.startswith(f"edgelab: error: {path}: ") and reason in err
        assert len(err.strip().splitlines()) == 1
