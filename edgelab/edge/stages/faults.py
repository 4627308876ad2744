"""Internal fault hooks: the edge failing from the inside, switched on through the admin port.

    POST /faults {"kind": "abort", "status": 500, "percentage": 50, "match": {"path_prefix": "/page/"}}
    DELETE /faults/{id}      DELETE /faults      GET /faults      POST /faults/crash

Only the admin listener has these routes; proxied traffic can match a fault (by path or header)
but never create, change or remove one. The plan is one immutable value swapped per change, so
a request sees the old plan or the new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections.abc import Awaitable

from aiohttp import web
from pydantic import ValidationError

from edgelab.config.load import describe_validation_error
from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import Exchange
from edgelab.policy.failure import ModulePanic
from edgelab.policy.faults.decide import FaultDecision, decide
from edgelab.policy.faults.plan import FaultPlan, FaultRule

logger = logging.getLogger(__name__)

CRASH_EXIT_CODE = 70
"""Exit status of a POP crashed on purpose (EX_SOFTWARE), so supervisors can tell it apart."""


class FaultStage:
    name = "faults"

    def __init__(self, seed: int | None = None) -> None:
        self.idle = True
        """No fault is on: the pipeline passes this stage over."""
        self.plan = FaultPlan()
        self.rng = random.Random(seed)
        self._ids = itertools.count(1)

    @property
    def plan(self) -> FaultPlan:
        """The faults in force (one immutable value, swapped whole)."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        self._plan = plan
        self.idle = not plan.rules

    def request(self, ex: Exchange) -> Awaitable[None] | None:
        """None when done at once (no fault plan: the common case), else the delay to await."""
        if not self.plan.rules:
            return None
        req = ex.request
        d = decide(self.plan, req.method, req.path, req.headers, self.rng)
        if d.none:
            return None
        ex.notes["faults"] = d.rule_ids
        if d.burn_s:
            _spin(d.burn_s)
        if d.delay_s:
            return self._delayed(ex, d)
        self._act(ex, d)
        return None

    async def _delayed(self, ex: Exchange, d: FaultDecision) -> None:
        await asyncio.sleep(d.delay_s)
        self._act(ex, d)

    def _act(self, ex: Exchange, d: FaultDecision) -> None:
        if d.panic:
            raise ModulePanic(f"injected panic (fault {','.join(d.rule_ids)})")
        if d.abort_status is not None:
            ex.verdict(self.name, "abort", ",".join(d.rule_ids))
            ex.path_taken = "edge"
            ex.response = error_response(d.abort_status, "Injected fault.", ex)

    def response(self, ex: Exchange) -> None:
        return None

    # -- admin ------------------------------------------------------------------------------

    def add(self, rule: FaultRule) -> FaultRule:
        rule = rule.model_copy(update={"id": rule.id or f"f{next(self._ids)}"})
        self.plan = FaultPlan(rules=(*(r for r in self.plan.rules if r.id != rule.id), rule))
        logger.warning("fault on: %s", rule.model_dump_json(), extra={"stage": self.name})
        return rule

    def remove(self, rule_id: str) -> bool:
        kept = tuple(r for r in self.plan.rules if r.id != rule_id)
        found = len(kept) != len(self.plan.rules)
        self.plan = FaultPlan(rules=kept)
        return found

    def clear(self) -> int:
        n = len(self.plan.rules)
        self.plan = FaultPlan()
        return n

    def admin_routes(self) -> list[web.RouteDef]:
        async def list_faults(_: web.Request) -> web.Response:
            return web.json_response({"faults": [r.model_dump() for r in self.plan.rules]})

        async def add_fault(request: web.Request) -> web.Response:
            try:
                rule = FaultRule.model_validate_json(await request.read())
            except ValidationError as e:
                return web.json_response(
                    {"error": describe_validation_error("fault", e)}, status=400
                )
            return web.json_response(self.add(rule).model_dump(), status=201)

        async def remove_fault(request: web.Request) -> web.Response:
            if not self.remove(request.match_info["id"]):
                return web.json_response({"error": "no such fault"}, status=404)
            return web.json_response({"removed": request.match_info["id"]})

        async def clear_faults(_: web.Request) -> web.Response:
            return web.json_response({"removed": self.clear()})

        async def crash(_: web.Request) -> web.Response:
            logger.error("crash requested through the admin API: exiting %d", CRASH_EXIT_CODE)
            asyncio.get_running_loop().call_later(0.05, os._exit, CRASH_EXIT_CODE)
            return web.json_response({"crashing": True}, status=202)

        return [
            web.get("/faults", list_faults),
            web.post("/faults", add_fault),
            web.delete("/faults", clear_faults),
            web.delete("/faults/{id}", remove_fault),
            web.post("/faults/crash", crash),
        ]


def _spin(seconds: float) -> None:
    """Burn CPU on the event loop thread: nothing else on this POP runs meanwhile."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
