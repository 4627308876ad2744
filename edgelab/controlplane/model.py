"""The control plane's API bodies: frozen pydantic models, every field explained.

    PushRequest.model_validate({"mutation": "duplicate-rows", "target": {"fraction": 0.5}})

A bad body is answered 400 with one line per problem (`body: target.fraction: ...`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgelab.controlplane.mutations import MUTATIONS
from edgelab.controlplane.rollout import Target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


POP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class TargetSpec(_Strict):
    """Which POPs a push reaches: give `fraction` or `pops`, or neither for all of them."""

    fraction: float | None = Field(None, ge=0, le=1)
    """Share of the POPs known at push time (and of those that join later)."""
    pops: tuple[str, ...] | None = None
    """These POPs by name, and no others."""

    @model_validator(mode="after")
    def _one(self) -> TargetSpec:
        if self.fraction is not None and self.pops is not None:
            raise ValueError("give fraction or pops, not both")
        return self

    def target(self) -> Target:
        return Target(self.fraction, self.pops)


MutationName = Literal["duplicate-rows", "truncate", "oversize", "invalid-syntax"]
assert set(MutationName.__args__) == set(MUTATIONS)  # type: ignore[attr-defined]


class PushRequest(_Strict):
    """`POST /v1/artifacts/{kind}`: new content, or a named bad mutation of an earlier version."""

    content: str | None = None
    """The artifact as text (YAML or JSON for the kinds edgelab ships)."""
    content_b64: str | None = None
    """The artifact as base64, for bytes that are not text."""
    mutation: MutationName | None = None
    """Make it bad: applied to `content`, or to `base_version`, or to the latest version."""
    base_version: int | None = Field(None, ge=1)
    """The version a mutation starts from when no content is given (default: the latest)."""
    author: str = Field("api", min_length=1, max_length=100)
    note: str = Field("", max_length=1000)
    target: TargetSpec = TargetSpec()
    wait_s: float = Field(0.0, ge=0, le=120)
    """Answer once every targeted POP reported this version, or after this long (0 = at once)."""

    @model_validator(mode="after")
    def _something(self) -> PushRequest:
        if self.content is not None and self.content_b64 is not None:
            raise ValueError("give content or content_b64, not both")
        return self


class RollbackRequest(_Strict):
    """`POST /v1/artifacts/{kind}/rollback`: push an earlier version's content again."""

    version: int | None = Field(None, ge=1)
    """The version to restore; default: the last known good (newest earlier version that POPs
    applied without failure, else the newest earlier version not made by a bad mutation)."""
    author: str = Field("rollback", min_length=1, max_length=100)
    note: str = Field("", max_length=1000)
    target: TargetSpec = TargetSpec()
    wait_s: float = Field(0.0, ge=0, le=120)


class KillswitchRequest(_Strict):
    """`POST /v1/killswitch`: merge into the current `killswitches` artifact and push it."""

    modules: dict[str, bool] = {}
    """Module name -> true to kill (skip) it, false to restore it; other modules unchanged."""
    rules: tuple[str | int, ...] | None = None
    """WAF rule ids to kill; replaces the list when given, keeps it when absent."""
    author: str = Field("killswitch", min_length=1, max_length=100)
    note: str = Field("", max_length=1000)
    target: TargetSpec = TargetSpec()
    wait_s: float = Field(0.0, ge=0, le=120)


class GeneratorSpec(_Strict):
    """`POST /v1/generators`: re-create an artifact every `period_s`, bad with probability p."""

    name: str = Field(pattern=POP_NAME)
    kind: str = "bot-features"
    period_s: float = Field(gt=0, le=86_400)
    """Seconds between generations (2025-11-18: 300 real seconds; lab files compress it)."""
    bad_probability: float = Field(0.5, ge=0, le=1)
    """Chance that one generation is bad (the query ran on an already-updated node)."""
    bad_probability_end: float | None = Field(None, ge=0, le=1)
    """If set, the chance moves linearly to this over `ramp_s` (the permission change rolling
    through the database cluster), then stays there."""
    ramp_s: float = Field(0.0, ge=0)
    mutation: MutationName = "duplicate-rows"
    """What a bad generation does to the recipe."""
    seed: int = 0
    """Seeds the generator's own rng: the same seed gives the same good/bad sequence."""
    base_version: int | None = Field(None, ge=1)
    """The recipe: this version's content (default: the latest; for `bot-features` with no
    version yet, the feature file shipped with edgelab)."""
    max_generations: int | None = Field(None, ge=1)
    """Stop after this many generations; None = until stopped."""
    target: TargetSpec = TargetSpec()


class PopReport(_Strict):
    kind: str
    version: int = Field(ge=0)
    outcome: Literal["applied", "rejected", "module_failed"]
    detail: str = Field("", max_length=2000)


class ReportRequest(_Strict):
    """`POST /v1/report`: what a POP did with the artifacts it received."""

    pop: str = Field(pattern=POP_NAME)
    reports: tuple[PopReport, ...]
