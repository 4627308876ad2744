"""Ctrl-C or SIGTERM in the middle of a real run: rollbacks run, no fault and no process is left."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from edgelab.chaos.journal import read_journal

pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_signal_mid_run_rolls_back_and_leaves_no_process(
    tmp_path: Path, sig: signal.Signals
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edgelab",
        "chaos",
        "run",
        "cloudflare-2025-11-18",
        "--variant",
        "none",
        "--duration",
        "30",
        "--out",
        str(tmp_path),
        "--no-report",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    seen = []
    fault_started = False
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
            assert line, "the run ended before its fault started:\n" + "".join(seen)
            seen.append(line)
            if "fault-start" in line:
                fault_started = True
            elif fault_started and " action " in line:
                break  # the generator is flapping now
        proc.send_signal(sig)
        rest = await asyncio.wait_for(proc.stdout.read(), 120)
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, rest.decode()[-2000:]
    run_dir = next(tmp_path.iterdir())
    events = read_journal(run_dir / "journal.jsonl")
    kinds = [e["type"] for e in events]
    assert "interrupted" in kinds and kinds[-1] == "run-end"
    rollbacks = [e for e in events if e["type"] == "rollback"]
    assert {e["name"] for e in rollbacks} >= {"stop generator bot-features"}
    assert all(e["status"] == "ok" for e in rollbacks)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "partial"
    state = json.loads(next(run_dir.glob("variants/none/lab/**/lab.json")).read_text())
    pids = [p["pid"] for p in state["processes"].values() if p.get("pid")]
    assert pids and not [pid for pid in pids if alive(pid)]
