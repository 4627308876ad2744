"""Child processes that cannot outlive the lab: own process group, parent-death signal, TERM then KILL.

    child = spawn([sys.executable, "-m", "edgelab", "origin", "--port", "0"], Path("origin.log"))
    code = await wait_exit(child)                  # exit code, or -signal
    await terminate(child, timeout_s=10)           # SIGTERM the group; SIGKILL it after 10 s
    terminate_by_pid(pid, identity, timeout_s=10)  # from another process (`edgelab lab down`)

Each child leads its own process group (so Ctrl-C in a terminal reaches the supervisor only, and
the supervisor stops the children in order), and on Linux gets SIGTERM from the kernel when the
supervisor dies without cleaning up (PR_SET_PDEATHSIG), so nothing is orphaned even by a SIGKILL.
A pid read back from a state file is trusted only if the process start time still matches, so a
reused pid is never signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from edgelab.errors import EdgelabError

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05
"""How often a wait without a pidfd looks again (also the pace of `terminate_by_pid`)."""


def _pdeathsig() -> Callable[[], None] | None:
    """A preexec function asking the kernel to SIGTERM the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - static libc
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return preexec


_PREEXEC = _pdeathsig()


def spawn(
    argv: Sequence[str],
    log: Path,
    env: dict[str, str] | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group with stdout and stderr appended to `log`.

    `die_with_parent=False` is for a supervisor detached on purpose (`lab up --detach`).

    Synchronous on purpose: between fork and the caller holding the handle there is no await,
    so a Ctrl-C cannot leave a child the supervisor does not know about.
    Raises EdgelabError when the executable cannot be started.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_PREEXEC if die_with_parent else None,
                env=env,
                close_fds=True,
            )
        except FileNotFoundError as e:
            raise EdgelabError(f"cannot start {argv[0]}: no such file") from e
        except PermissionError as e:
            raise EdgelabError(f"cannot start {argv[0]}: permission denied") from e


def identity(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 2 (comm) may hold spaces and parentheses: split after its closing ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]


def alive(pid: int, ident: str | None) -> bool:
    """True while `pid` runs (not a zombie) and, when known, is the same process as `ident`."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] in ("Z", "X"):
            return False
        return ident is None or fields[19] == ident
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def wait_exit(child: subprocess.Popen[bytes]) -> int:
    """Wait for `child` to exit (pidfd on Linux, else polling); its code, or -signal."""
    code = child.poll()
    if code is not None:
        return code
    loop = asyncio.get_running_loop()
    fd: int | None = None
    with contextlib.suppress(AttributeError, OSError):
        fd = os.pidfd_open(child.pid)
    if fd is None:  # no pidfd (not Linux): nothing to wait on but the pid itself
        while (code := child.poll()) is None:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_S)
        return code
    exited = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return child.wait()


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def terminate(child: subprocess.Popen[bytes], timeout_s: float) -> int:
    """SIGTERM `child`'s process group, SIGKILL it after `timeout_s`; the exit code."""
    if child.poll() is not None:
        _killpg(child.pid, signal.SIGKILL)  # leftovers of the group, if any
        return child.returncode
    _killpg(child.pid, signal.SIGTERM)
    try:
        return await asyncio.wait_for(wait_exit(child), timeout_s)
    except TimeoutError:
        _killpg(child.pid, signal.SIGKILL)
        return await wait_exit(child)


def terminate_by_pid(pid: int, ident: str | None, timeout_s: float, group: bool = True) -> bool:
    """Stop a process this process did not start (and its group when `group`): TERM, then KILL.

    Does nothing if the pid is gone or now belongs to another process. True if it was running.
    """
    if not alive(pid, ident):
        return False

    def send(sig: signal.Signals) -> None:
        if group:
            _killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    killed = False
    while alive(pid, ident):
        if time.monotonic() > deadline:
            if killed:
                break
            send(signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5.0
        time.sleep(_POLL_S)
    return True
