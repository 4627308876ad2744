"""Where the load goes: the targets file Locust reads (`--edgelab-targets` / `EDGELAB_TARGETS`).

    targets = load_targets(Path("targets.json"))
    targets.cdn_a        # ["http://127.0.0.1:8000", ...]: CDN A's POPs
    targets.bypass       # "none" | "dns-failover" | "multi-cdn" | "retry-direct"

A JSON (or YAML) file written by the lab (or by hand), documented in docs/contracts.md:

    {"cdn-a": ["http://127.0.0.1:8000"], "cdn-b": ["http://127.0.0.1:8100"],
     "origin": "http://127.0.0.1:8081",
     "steering": {"url": "http://127.0.0.1:8053", "service": "www"},
     "bypass": "dns-failover",
     "retry": {"mode": "backoff", "max_retries": 2},
     "mix": {"browser": 6, "api": 3, "attacker": 1, "bot": 1}}

Steering answers name one of its targets; the client understands the names `cdn-a`, `cdn-b` and
`origin` (see `edgelab.loadgen.paths`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgelab.config.load import load_model, parse_model
from edgelab.loadgen.profiles import DEFAULT_MIX, Profile
from edgelab.loadgen.retry import RetryPolicy

Bypass = Literal["none", "dns-failover", "multi-cdn", "retry-direct"]
"""The client half of each bypass architecture (edge-side variants need nothing here)."""

TARGETS_ENV = "EDGELAB_TARGETS"
"""Environment variable naming the targets file, for `locust -f loadtests/locustfile.py`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _http_url(v: str) -> str:
    if not v.startswith(("http://", "https://")) or len(v.split("://", 1)[1]) == 0:
        raise ValueError(f"must be an http:// URL, got {v!r}")
    return v.rstrip("/")


class SteeringRef(_Strict):
    """Where the steering service (`edgelab steer`) answers, and which service to ask for."""

    url: str
    """Base URL of `edgelab steer`; clients call `GET {url}/resolve?service=...`."""
    service: str = "www"
    """The service name whose targets steering chooses between."""
    timeout_s: float = Field(2.0, gt=0)
    """A resolve that takes longer than this counts as failed (the last answer is kept)."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)


class Targets(_Strict):
    """Everything Locust needs to know about where things are and how clients behave."""

    cdn_a: list[str] = Field(alias="cdn-a", min_length=1)
    """CDN A's POPs (edge proxy URLs); each user sticks to one, as a client sticks to a POP."""
    cdn_b: list[str] = Field(default_factory=list, alias="cdn-b")
    """CDN B's POPs, for `multi-cdn`."""
    origin: str | None = None
    """The origin's direct URL (in a lab, through its own toxiproxy link): the bypass target."""
    steering: SteeringRef | None = None
    """The steering service, for `dns-failover` and `multi-cdn`."""
    bypass: Bypass = "none"
    """`none`: always CDN A. `dns-failover`/`multi-cdn`: go where steering says, caching each
    answer for its TTL. `retry-direct`: on a 5xx from the edge, retry once at the origin."""
    retry: RetryPolicy = RetryPolicy()
    """Client retries (none by default)."""
    mix: dict[Profile, int] = Field(default_factory=lambda: dict(DEFAULT_MIX))
    """Relative number of users per profile; 0 leaves a profile out."""
    timeout_s: float = Field(10.0, gt=0)
    """Per-attempt client timeout (connect and read); a timeout is recorded as status 0."""
    think_time_scale: float = Field(1.0, ge=0)
    """Multiplies every profile's wait between tasks; 0 makes users send as fast as they can."""
    seed: int | None = None
    """Seeds each user's choices (POP, pages, payloads, jitter) with seed + user number."""

    @field_validator("cdn_a", "cdn_b")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [_http_url(u) for u in v]

    @field_validator("origin")
    @classmethod
    def _origin(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v)

    @field_validator("mix")
    @classmethod
    def _mix(cls, v: dict[Profile, int]) -> dict[Profile, int]:
        if any(w < 0 for w in v.values()) or not any(v.values()):
            raise ValueError("weights must be >= 0 and at least one above 0")
        return v

    @model_validator(mode="after")
    def _bypass_needs(self) -> Targets:
        if self.bypass in ("dns-failover", "multi-cdn") and self.steering is None:
            raise ValueError(f"bypass {self.bypass} needs a steering section")
        if self.bypass == "retry-direct" and self.origin is None:
            raise ValueError("bypass retry-direct needs the origin URL")
        if self.bypass == "multi-cdn" and not self.cdn_b:
            raise ValueError("bypass multi-cdn needs cdn-b POPs")
        return self

    def to_json(self) -> str:
        """The file form (with `cdn-a`/`cdn-b` keys), as `load_targets` reads it back."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)


def load_targets(path: Path) -> Targets:
    """Read and validate a targets file; raises ConfigError naming the file and field."""
    return load_model(path, Targets)


def parse_targets(data: object, source: str) -> Targets:
    """Validate already-parsed targets data; raises ConfigError naming `source`."""
    return parse_model(data, Targets, source)
