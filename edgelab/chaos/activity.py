"""Run one activity: call its catalogue entry, time it, judge a probe, journal the outcome.

A failing activity is a result (`status: failed` with its error in the journal), not a crash;
a probe outside its tolerance is `status: deviated`. Only cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from edgelab.chaos.catalogue import CATALOGUE
from edgelab.chaos.context import RunContext
from edgelab.chaos.journal import Journal
from edgelab.chaos.model import Activity
from edgelab.chaos.tolerance import within_tolerance

logger = logging.getLogger(__name__)

ACTIVITY_TIMEOUT_S = 60.0
"""No single action or probe may take longer; a hung target must not hang the run."""


async def run_activity(
    ctx: RunContext, activity: Activity, journal: Journal, *, t: float | None, phase: str
) -> tuple[str, Any]:
    """Returns (status, output); status is ok, failed or deviated."""
    func = CATALOGUE[activity.provider.func]
    started = time.perf_counter()
    output: Any = None
    error: str | None = None
    try:
        output = await asyncio.wait_for(
            func(ctx, **activity.provider.arguments), ACTIVITY_TIMEOUT_S
        )
        status = "ok" if within_tolerance(output, activity.tolerance) else "deviated"
    except TimeoutError:
        status, error = "failed", f"timed out after {ACTIVITY_TIMEOUT_S:.0f}s"
    except Exception as e:  # an activity's failure is data for the journal, never a crash
        status, error = "failed", f"{type(e).__name__}: {e}"
        logger.warning("%s %r failed: %s", activity.type, activity.name, error)
    detail: dict[str, Any] = {
        "phase": phase,
        "func": activity.provider.func,
        "arguments": activity.provider.arguments,
        "duration_s": round(time.perf_counter() - started, 4),
        "output": output,
    }
    if activity.tolerance is not None:
        detail["tolerance"] = activity.tolerance.model_dump(exclude_none=True)
    if error:
        detail["error"] = error
    journal.event(
        activity.type, name=activity.name, status=status, variant=ctx.variant, t=t, detail=detail
    )
    return status, output
