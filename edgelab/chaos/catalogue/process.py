"""Signals to lab processes: the crash, hang and resume an operator sees in real life."""

from __future__ import annotations

import os
import signal
from typing import Any

from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext

_SIGNALS = {
    "SIGKILL": signal.SIGKILL,
    "SIGSTOP": signal.SIGSTOP,
    "SIGCONT": signal.SIGCONT,
    "SIGTERM": signal.SIGTERM,
}


async def send_signal(
    ctx: RunContext, *, process: str, signal_name: str = "SIGKILL"
) -> dict[str, Any]:
    """Send `signal_name` (SIGKILL, SIGSTOP, SIGCONT, SIGTERM) to a lab process by name.

    A SIGSTOP registers a SIGCONT for rollback, so no process is left frozen.
    """
    proc = ctx.lab.processes.get(process)
    if proc is None or proc.pid is None:
        raise ActivityFailed(f"no running process {process!r} with a pid in this lab")
    sig = _SIGNALS.get(signal_name.upper())
    if sig is None:
        raise ActivityFailed(
            f"signal_name must be one of {', '.join(_SIGNALS)}, not {signal_name!r}"
        )
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError as e:
        raise ActivityFailed(f"{process} (pid {proc.pid}) is not running") from e
    if sig == signal.SIGSTOP:
        pid = proc.pid

        async def resume() -> None:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

        ctx.on_rollback(f"SIGCONT {process}", resume)
    return {"process": process, "pid": proc.pid, "signal": signal_name.upper()}
