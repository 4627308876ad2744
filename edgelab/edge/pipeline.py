"""The stage contract and the loop that runs stages over an Exchange.

    pipeline = Pipeline(default_stages(config, upstream))
    await pipeline.run(ex)          # ex.response is always set afterwards
    pending = pipeline.run_now(ex)  # the same, as far as it goes without waiting

Request hooks run in list order until one sets `ex.response`; response hooks then run in reverse
over the stages whose request hook ran, so the outermost stage sees the final response. A stage
that raises is a bug or a module panic: it is logged with its traceback, the client gets a 500
page, and the outer stages still see that response (serve-stale may replace it).

A stage with an `idle` attribute that is True (a module switched off, a fault stage without
faults) is passed over while it is: neither of its hooks runs, at the cost of one attribute read
instead of a call.

A hook is an `async def`, or a plain method that returns None when it is done and an awaitable
only when it has to wait (the cache answering a hit, a module that is off): a cache hit then
creates and awaits no coroutine per stage, and through `run_now` none at all. Call a hook from
outside the pipeline with `await settle(stage.request(ex))`.
"""

from __future__ import annotations

import dis
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import Exchange
from edgelab.errors import RequestRejected
from edgelab.policy.failure import ModulePanic

logger = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of the edge request path. Each hook is an `async def` or returns None when it
    finished without waiting (else an awaitable the pipeline awaits)."""

    name: str
    # Optional: `idle: bool`, True while the stage would do nothing on any request (its hooks
    # are then not called; see the module docstring).

    def request(self, ex: Exchange) -> Awaitable[None] | None:
        """Inspect or change the request; set `ex.response` to answer without going further."""

    def response(self, ex: Exchange) -> Awaitable[None] | None:
        """Inspect or change `ex.response` on its way back to the client."""


async def settle(pending: Awaitable[None] | None) -> None:
    """Finish a hook call made outside the pipeline: `await settle(stage.request(ex))`."""
    if pending is not None:
        await pending


class Pipeline:
    """Stages in a fixed order, run as plain calls (no middleware chain) to keep the path flat.

    Hooks that do nothing (a body of only `return None`, `pass` or a docstring) are left out of
    the loop when the pipeline is built: most stages have only one real hook, and a cache hit
    should not pay an await for each of the others.
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self._requests = tuple(
            (i, stage, _gate(stage), stage.request)
            for i, stage in enumerate(self.stages)
            if not does_nothing(stage.request)
        )
        """(position, stage, its `idle` holder or None, hook) of the request hooks that do
        something, in order."""
        self._responses = tuple(
            (i, stage, _gate(stage), stage.response)
            for i, stage in reversed(tuple(enumerate(self.stages)))
            if not does_nothing(stage.response)
        )
        """The same for response hooks, innermost first."""

    async def run(self, ex: Exchange) -> None:
        """Run every hook that applies to `ex`; `ex.response` is set afterwards."""
        pending = self.run_now(ex)
        if pending is not None:
            await pending

    def run_now(self, ex: Exchange) -> Awaitable[None] | None:
        """`run` as far as it goes without waiting: None when every hook finished at once (a
        cache hit: no coroutine at all), else an awaitable that finishes the rest."""
        return self._requests_from(ex, 0)

    def _requests_from(self, ex: Exchange, first: int) -> Awaitable[None] | None:
        """The request hooks from the `first`-th on, then the response hooks."""
        requests = self._requests
        for k in range(first, len(requests)):
            i, stage, gate, hook = requests[k]
            if gate is not None and gate.idle:
                continue
            try:
                pending = hook(ex)
            except RequestRejected as e:  # the client's body was too large or malformed
                self._rejected(ex, stage, e)
            except Exception as e:  # a stage bug or a module panic: 500, the POP keeps serving
                self._failed(ex, stage, "request", e)
            else:
                if pending is not None:  # the hook has to wait (None: done already)
                    return self._request_waits(ex, k, pending)
            if ex.response is not None:
                return self._responses_from(ex, 0, i)
        return self._unanswered(ex)

    async def _request_waits(self, ex: Exchange, k: int, pending: Awaitable[None]) -> None:
        """The `k`-th request hook waits on `pending`; then the rest, as `_requests_from`."""
        i, stage = self._requests[k][:2]
        try:
            await pending
        except RequestRejected as e:
            self._rejected(ex, stage, e)
        except Exception as e:
            self._failed(ex, stage, "request", e)
        if ex.response is not None:
            rest = self._responses_from(ex, 0, i)
        else:
            rest = self._requests_from(ex, k + 1)
        if rest is not None:
            await rest

    def _unanswered(self, ex: Exchange) -> Awaitable[None] | None:
        """No stage answered (the origin stage always does): a bug, answered 500."""
        last = len(self.stages) - 1
        self._failed(
            ex, self.stages[last], "request", RuntimeError("no stage answered the request")
        )
        return self._responses_from(ex, 0, last)

    def _responses_from(self, ex: Exchange, first: int, answered: int) -> Awaitable[None] | None:
        """The response hooks from the `first`-th on, of the stages at or before position
        `answered` (the one that set the response: the others' request hooks never ran)."""
        responses = self._responses
        for k in range(first, len(responses)):
            i, stage, gate, hook = responses[k]
            if i > answered or (gate is not None and gate.idle):
                continue  # its request hook never ran, or it is off
            try:
                pending = hook(ex)
            except Exception as e:
                self._failed(ex, stage, "response", e)
            else:
                if pending is not None:
                    return self._response_waits(ex, k, answered, pending)
        return None

    async def _response_waits(
        self, ex: Exchange, k: int, answered: int, pending: Awaitable[None]
    ) -> None:
        """The `k`-th response hook waits on `pending`; then the rest."""
        try:
            await pending
        except Exception as e:
            self._failed(ex, self._responses[k][1], "response", e)
        rest = self._responses_from(ex, k + 1, answered)
        if rest is not None:
            await rest

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


def _gate(stage: object) -> Any:
    """What the loop reads `idle` from: the stage if it keeps an `idle` flag, else None (the
    loop then reads nothing)."""
    return stage if isinstance(getattr(stage, "idle", None), bool) else None


_TRIVIAL_OPS = frozenset({"RESUME", "RETURN_GENERATOR", "POP_TOP", "NOP", "CACHE"})
"""Opcodes every (async) function starts with; they do nothing the caller can see."""

_NOT_PLAIN = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
"""Code flags of functions that are not a plain or `async def` function."""


def does_nothing(hook: Callable[..., Any]) -> bool:
    """True when `hook` is a function or `async def` whose body only returns None (`return
    None`, `pass`, a docstring). Anything else (a mock, a callable object, real code) is run."""
    code = getattr(getattr(hook, "__func__", hook), "__code__", None)
    if code is None or code.co_flags & _NOT_PLAIN:
        return False
    ops = [(op.opname, op.argval) for op in dis.get_instructions(code)]
    ops = [(name, arg) for name, arg in ops if name not in _TRIVIAL_OPS]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])
