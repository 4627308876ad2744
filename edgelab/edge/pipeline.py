"""The stage contract and the loop that runs stages over an Exchange.

    pipeline = Pipeline(default_stages(config, upstream))
    await pipeline.run(ex)          # ex.response is always set afterwards

Request hooks run in list order until one sets `ex.response`; response hooks then run in reverse
over the stages whose request hook ran, so the outermost stage sees the final response. A stage
that raises is a bug or a module panic: it is logged with its traceback, the client gets a 500
page, and the outer stages still see that response (serve-stale may replace it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import Exchange
from edgelab.errors import RequestRejected
from edgelab.policy.failure import ModulePanic

logger = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of the edge request path."""

    name: str

    async def request(self, ex: Exchange) -> None:
        """Inspect or change the request; set `ex.response` to answer without going further."""

    async def response(self, ex: Exchange) -> None:
        """Inspect or change `ex.response` on its way back to the client."""


class Pipeline:
    """Stages in a fixed order, run as plain calls (no middleware chain) to keep the path flat."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    async def run(self, ex: Exchange) -> None:
        ran = 0
        for stage in self.stages:
            ran += 1
            try:
                await stage.request(ex)
            except RequestRejected as e:  # the client's body was too large or malformed
                self._rejected(ex, stage, e)
            except Exception as e:  # a stage bug or a module panic: 500, the POP keeps serving
                self._failed(ex, stage, "request", e)
            if ex.response is not None:
                break
        if ex.response is None:
            self._failed(
                ex, self.stages[-1], "request", RuntimeError("no stage answered the request")
            )
        for stage in reversed(self.stages[:ran]):
            try:
                await stage.response(ex)
            except Exception as e:
                self._failed(ex, stage, "response", e)

    @staticmethod
    def _rejected(ex: Exchange, stage: Stage, e: RequestRejected) -> None:
        """The client's fault: one INFO line, its 4xx page, and the connection closed (the
        rest of its body is not worth reading)."""
        logger.info(
            "request rejected in %s: %s %s",
            stage.name,
            e.status,
            e,
            extra={"request_id": ex.ray_id, "stage": stage.name},
        )
        ex.verdict(stage.name, "reject", str(e))
        if ex.response is not None and ex.response.release is not None:
            ex.notes.setdefault("abandoned", []).append(ex.response)
        ex.response = error_response(e.status, str(e), ex)
        ex.response.headers["Connection"] = "close"

    @staticmethod
    def _failed(ex: Exchange, stage: Stage, hook: str, e: Exception) -> None:
        # A module panic is the behaviour an experiment asked for (policy `panic`), one line per
        # request; anything else is our bug and keeps its traceback.
        logger.error(
            "stage %s failed in %s hook: %r",
            stage.name,
            hook,
            e,
            exc_info=None if isinstance(e, ModulePanic) else e,
            extra={"request_id": ex.ray_id, "stage": stage.name},
        )
        ex.error = e
        ex.verdict(stage.name, "error", type(e).__name__)
        if ex.response is not None and ex.response.release is not None:
            old = ex.response
            ex.notes.setdefault("abandoned", []).append(old)
        ex.response = error_response(500, "internal error", ex)
