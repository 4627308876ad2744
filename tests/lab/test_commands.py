"""`edgelab lab ...` as a user runs it: subprocesses, signals, and no process left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgelab.cli import main
from edgelab.lab.procs import alive
from edgelab.lab.state import read_state
from tests.lab.conftest import lab_pids, with_changes

WAIT_S = 90.0
"""Generous: several Python processes start on a shared 2-core machine."""
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def edgelab(*args: str, timeout: float = WAIT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgelab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


async def test_sigint_during_up_leaves_nothing(small_lab: Path, tmp_path: Path) -> None:
    def more_pops(data: dict[str, Any]) -> None:
        data["cdns"] = [{"name": "a", "pops": 2}, {"name": "b", "pops": 1}]

    with_changes(small_lab, more_pops)
    run_dir = tmp_path / "run"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "edgelab", "lab", "up", "--lab", str(small_lab), "--dir", str(run_dir)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        # the origin is up, the POPs are being started: interrupt now
        while not any(line.startswith("up") and "origin" in line for line in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), WAIT_S)
            assert line, f"lab up ended early: {seen}"
            seen.append(line.decode())
        during = lab_pids(run_dir)
        proc.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(proc.communicate(), WAIT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = "".join(seen) + rest.decode()
    assert proc.returncode == 130, output
    assert proc.pid in during and len(during) >= 2, "the supervisor and the origin were running"
    state = read_state(run_dir / "lab.json")
    assert state.status == "failed"
    recorded = [ps.pid for ps in state.processes.values() if ps.pid is not None]
    assert recorded and not any(alive(pid, None) for pid in recorded), output
    assert lab_pids(run_dir) == set(), output
    assert "Traceback" not in output


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`edgelab ARGS` in this process (a user's second shell): exit code and stdout."""
    with pytest.raises(SystemExit) as e:
        main([*args])
        raise SystemExit(0)
    out = capsys.readouterr().out
    return int(e.value.code or 0), out


def test_detach_status_kill_down(
    small_lab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = str(tmp_path / "run")
    started = edgelab("lab", "up", "--detach", "--lab", str(small_lab), "--dir", run_dir)
    try:
        assert started.returncode == 0, started.stderr
        assert "lab small is up" in started.stdout
        state = read_state(Path(run_dir) / "lab.json")
        assert alive(state.supervisor_pid, state.supervisor_ident)

        with pytest.raises(SystemExit) as e:
            main(["lab", "up", "--lab", str(small_lab), "--dir", run_dir])
        assert e.value.code == 2
        assert "a lab is already up here" in capsys.readouterr().err

        code, shown = cli(capsys, "lab", "status", "--dir", run_dir)
        assert code == 0
        rows = {line.split()[1]: line for line in shown.splitlines() if "│" in line}
        assert "ok" in rows["origin"] and "ok" in rows["edge-a-1"]
        assert str(state.processes["edge-a-1"].pid) in rows["edge-a-1"]

        edge_pid = state.processes["edge-a-1"].pid
        assert edge_pid is not None
        os.kill(edge_pid, signal.SIGKILL)
        code, shown = cli(capsys, "lab", "status", "--dir", run_dir)
        row = next(line for line in shown.splitlines() if "edge-a-1" in line)
        assert ("exited" in row or "dead" in row) and " ok " not in row, shown
        assert "ok" in next(line for line in shown.splitlines() if "origin" in line)

        code, logs = cli(capsys, "lab", "logs", "origin", "--no-follow", "--dir", run_dir)
        assert "edgelab origin http listening on" in logs
    finally:
        code, stopped = cli(capsys, "lab", "down", "--dir", run_dir)
    assert code == 0 and "supervisor" in stopped
    assert lab_pids(Path(run_dir)) == set()
    assert read_state(Path(run_dir) / "lab.json").status == "stopped"
    code, again = cli(capsys, "lab", "down", "--dir", run_dir)
    assert code == 0 and "nothing was running" in again


def test_status_without_a_lab(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["lab", "status", "--dir", str(tmp_path)])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"edgelab: error: {tmp_path}/lab.json: no lab state here (is a lab up? `edgelab lab up`)\n"
    )
