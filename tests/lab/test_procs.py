"""Children that cannot outlive the lab: TERM then KILL, and death with their supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edgelab.lab.procs import alive, identity, spawn, terminate, terminate_by_pid

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(sys.argv[1], 'w').write('ready')\n"
    "time.sleep(600)\n"
)
"""A child that ignores SIGTERM (only SIGKILL ends it); says `ready` into the FIFO argv[1]."""


def stubborn(tmp_path: Path) -> tuple[list[str], Path]:
    fifo = tmp_path / "ready.fifo"
    os.mkfifo(fifo)
    return [sys.executable, "-c", STUBBORN, str(fifo)], fifo


async def wait_ready(fifo: Path) -> None:
    """Returns once the child has ignored SIGTERM and said so (the read blocks until then)."""
    said = await asyncio.wait_for(asyncio.to_thread(fifo.read_text), 60)
    assert said == "ready"


async def test_sigterm_then_sigkill(tmp_path: Path) -> None:
    argv, fifo = stubborn(tmp_path)
    child = spawn(argv, tmp_path / "stubborn.log")
    try:
        await wait_ready(fifo)
        code = await terminate(child, timeout_s=0.5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == -signal.SIGKILL


async def test_terminate_by_pid_checks_identity(tmp_path: Path) -> None:
    argv, fifo = stubborn(tmp_path)
    child = spawn(argv, tmp_path / "stubborn.log")
    try:
        await wait_ready(fifo)
        ident = identity(child.pid)
        assert ident is not None and alive(child.pid, ident)
        # a pid whose start time does not match is someone else's: left alone
        assert terminate_by_pid(child.pid, "1", timeout_s=0.5) is False
        assert child.poll() is None
        assert await asyncio.to_thread(terminate_by_pid, child.pid, ident, 0.5) is True
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    """A supervisor killed with SIGKILL cannot clean up: the kernel stops its children."""
    pid_file = tmp_path / "child.pid"
    supervisor = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edgelab.lab.procs import spawn\n"
        f"child = spawn([sys.executable, '-c', 'import time; time.sleep(600)'], Path({str(tmp_path / 'c.log')!r}))\n"
        f"Path({str(pid_file)!r}).write_text(str(child.pid))\n"
        "print('spawned', flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", supervisor],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    child_pid = None
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "spawned\n"
        child_pid = int(pid_file.read_text())
        ident = identity(child_pid)
        assert alive(child_pid, ident)
        parent.kill()
        parent.wait(timeout=30)
        # the kernel sends the orphan SIGTERM (its parent-death signal): wait until it is gone
        deadline = time.monotonic() + 60
        while alive(child_pid, ident) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(child_pid, ident)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid is not None and alive(child_pid, None):
            os.kill(child_pid, signal.SIGKILL)
