"""A fault plan: the internal faults an experiment has switched on at one POP. Plain data.

    plan = FaultPlan(rules=(FaultRule(id="f1", kind="abort", status=500, percentage=100.0),))

Kinds, modelled on Envoy's fault filter and on the failures that took CDNs down:
- `abort`: answer `status` instead of proxying (the proxy returning 5xx).
- `delay`: hold the request `delay_ms` before it goes on (a slow edge).
- `panic`: raise inside the request path, as a module panic does; the client gets 500.
- `burn`: spin the CPU for `burn_ms` on the event loop, stalling every request on the POP
  (the shape of the 2019 regex outage, without needing the WAF).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["abort", "delay", "panic", "burn"]


class FaultMatch(BaseModel):
    """Which requests a fault applies to; every given field must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path_prefix: str = "/"
    """Request paths starting with this."""
    header: str | None = None
    """`Name` (present) or `Name: value` (equal); None matches every request."""
    methods: tuple[str, ...] = ()
    """Upper-case methods; empty matches all."""


class FaultRule(BaseModel):
    """One injected fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""
    """Assigned by the POP when the fault is added; used to remove it."""
    kind: FaultKind
    percentage: float = Field(100.0, ge=0.0, le=100.0)
    """Share of matching requests affected, drawn from the POP's seeded rng."""
    status: int = Field(500, ge=400, le=599)
    """`abort`: the status answered."""
    delay_ms: float = Field(0.0, ge=0.0, le=600_000)
    """`delay`: how long each affected request is held."""
    burn_ms: float = Field(0.0, ge=0.0, le=60_000)
    """`burn`: CPU time spun per affected request."""
    match: FaultMatch = FaultMatch()


class FaultPlan(BaseModel):
    """All faults active on a POP, in the order they were added."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[FaultRule, ...] = ()
