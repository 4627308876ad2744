"""The experiment file: Chaos Toolkit's shape, typed, with lab-time offsets and variants.

    experiment = load_experiment(Path("chaos/experiments/cloudflare-2025-11-18.yaml"))
    for variant in experiment.variant_names(): experiment.for_variant(variant)

Every timeline offset, cadence and TTL is in lab seconds; `time.compression` says how many
real-incident seconds one lab second stands for, so a report can show both.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VARIANT_NAMES = (
    "none",
    "dns-failover",
    "multi-cdn",
    "retry-direct",
    "fail-open",
    "serve-stale",
    "hardened",
)
"""The bypass architectures edgelab compares; a variant's name says which it models."""

BYPASS_MODES = ("none", "dns-failover", "multi-cdn", "retry-direct")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Provider(_Strict):
    """Which catalogue function runs, with which arguments (Chaos Toolkit's `provider`)."""

    func: str
    """Catalogue name, `<target>.<function>`, e.g. `edge.abort`, `control.push_bad`."""
    arguments: dict[str, Any] = {}


class Tolerance(_Strict):
    """What a probe's value must be for the hypothesis to hold (inclusive bounds)."""

    min: float | None = None
    max: float | None = None
    equals: Any = None


class Activity(_Strict):
    """An action or probe in the method, the hypothesis or the rollbacks."""

    type: Literal["action", "probe"] = "action"
    name: str
    provider: Provider
    at_s: float | None = Field(None, ge=0)
    """Lab seconds after the load starts; None runs it right after the previous activity."""
    pause_before_s: float = Field(0.0, ge=0)
    pause_after_s: float = Field(0.0, ge=0)
    tolerance: Tolerance | None = None
    """Probes only: a value outside it is a deviation (recorded, not a crash)."""
    fault: Literal["start", "end"] | None = None
    """Marks the fault window for reports: this activity starts or ends the fault."""

    @model_validator(mode="after")
    def _tolerance_on_probes_only(self) -> Activity:
        if self.tolerance is not None and self.type != "probe":
            raise ValueError("tolerance is only for probes")
        return self


class SteadyState(_Strict):
    title: str = "steady state"
    probes: tuple[Activity, ...] = ()


class Load(_Strict):
    """The traffic: Locust users, their mix, the shape over time, the client-side bypass."""

    duration_s: float = Field(30.0, gt=0, le=3600)
    shape: dict[str, Any] = {"kind": "steady", "users": 20}
    """A load shape (edgelab.loadgen.shapes): steady, step, spike, ramp or csv; lab seconds."""
    mix: dict[str, int] = {"browser": 6, "api": 2, "bot": 1, "attacker": 1}
    """Relative weights of the user classes."""
    bypass: str = "none"
    retry: dict[str, Any] = {"mode": "none"}
    """Client retries (edgelab.loadgen.retry.RetryPolicy): none, immediate or backoff."""
    workers: int = Field(0, ge=0, le=16)
    """Locust worker processes (0 = a single local process)."""
    seed: int | None = 42
    """Seeds every user's choices, so a run replays."""

    @field_validator("bypass")
    @classmethod
    def _known_bypass(cls, v: str) -> str:
        if v not in BYPASS_MODES:
            raise ValueError(f"unknown bypass {v!r}; one of {', '.join(BYPASS_MODES)}")
        return v


class LabSpec(_Strict):
    """Which lab to bring up, and what every POP's edge config changes for this experiment."""

    file: str = "default"
    """`default` (shipped with edgelab) or a lab file path relative to the experiment."""
    edge: dict[str, Any] = {}
    """Overlay on every POP's edge config (e.g. `{bot: {failure_policy: panic}}`)."""
    overrides: dict[str, Any] = {}
    """Overlay on the lab file itself."""


class Variant(_Strict):
    name: str
    description: str = ""
    lab: dict[str, Any] = {}
    """Overlay on the experiment's `lab` section."""
    load: dict[str, Any] = {}
    """Overlay on the experiment's `load` section."""


class TimeSpec(_Strict):
    compression: float = Field(60.0, gt=0)
    """Real-incident seconds one lab second stands for."""


class Experiment(_Strict):
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    """The facts of the incident this experiment reproduces, one per line."""
    sources: tuple[str, ...] = ()
    time: TimeSpec = TimeSpec()
    lab: LabSpec = LabSpec()
    load: Load = Load()
    steady_state_hypothesis: SteadyState = Field(SteadyState(), alias="steady-state-hypothesis")
    method: tuple[Activity, ...] = ()
    rollbacks: tuple[Activity, ...] = ()
    variants: tuple[Variant, ...] = (Variant(name="none"),)

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, v: tuple[Variant, ...]) -> tuple[Variant, ...]:
        names = [x.name for x in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        if not v:
            raise ValueError("at least one variant is needed")
        return v

    @model_validator(mode="after")
    def _timeline_inside_load(self) -> Experiment:
        for a in self.method:
            if a.at_s is not None and a.at_s > self.load.duration_s:
                raise ValueError(
                    f"method: {a.name!r} at_s={a.at_s} is after the load ends ({self.load.duration_s}s)"
                )
        return self

    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def for_variant(self, name: str) -> Experiment:
        """This experiment with variant `name`'s overlays applied (and only that variant)."""
        variant = next((v for v in self.variants if v.name == name), None)
        if variant is None:
            raise KeyError(name)
        data = self.model_dump(by_alias=True)
        data["lab"] = deep_merge(data["lab"], variant.lab)
        data["load"] = deep_merge(data["load"], variant.load)
        data["variants"] = [variant.model_dump()]
        return Experiment.model_validate(data)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` on `base`, recursively for mappings; lists and scalars are replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
