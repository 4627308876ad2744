"""The origin profile: its capacity and what its routes return.

    profile = load_model(Path("origin.yaml"), OriginProfile)

A YAML file has the same shape as this model; every field has a default, so an empty file is a
small origin (8 workers, 64 queued, 20 ms mean service time).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceTime(_Strict):
    """How long one request occupies a worker."""

    distribution: Literal["fixed", "lognormal"] = "lognormal"
    """`fixed`: always `mean_ms`; `lognormal`: a long-tailed distribution fitted to mean and p99."""
    mean_ms: float = Field(20.0, ge=0.0)
    """Mean service time in milliseconds."""
    p99_ms: float = Field(80.0, ge=0.0)
    """99th percentile in milliseconds (lognormal only); must be at least the mean."""

    @model_validator(mode="after")
    def _p99_not_below_mean(self) -> ServiceTime:
        if self.distribution == "lognormal" and self.p99_ms < self.mean_ms:
            raise ValueError("p99_ms must be >= mean_ms for a lognormal service time")
        return self


class Capacity(_Strict):
    """Workers, a bounded queue and a queue timeout: what a surge overwhelms."""

    workers: int = Field(8, gt=0)
    """Requests served at once (threads, processes, DB connections: whatever limits the site)."""
    queue: int = Field(64, ge=0)
    """Requests that may wait for a worker; one more is shed at once with 503."""
    queue_timeout_s: float = Field(1.0, gt=0.0)
    """A request that waited this long for a worker is answered 503 instead."""
    service_time: ServiceTime = ServiceTime()
    retry_after_s: int = Field(1, ge=0)
    """`Retry-After` sent with every shed 503."""


class Routes(_Strict):
    """Body sizes and cache headers of the origin's routes."""

    static_bytes: int = Field(1024, ge=0, le=256 * 1024 * 1024)
    """Body size of `/static/<path>` (cacheable, `public, max-age`)."""
    static_max_age_s: int = Field(300, ge=0)
    page_bytes: int = Field(8 * 1024, ge=0, le=256 * 1024 * 1024)
    """Body size of `/page/<id>` (HTML, short `s-maxage`)."""
    page_s_maxage_s: int = Field(10, ge=0)
    api_bytes: int = Field(512, ge=0, le=256 * 1024 * 1024)
    """Body size of `/api/<path>` (JSON, `private, no-store`)."""
    search_bytes: int = Field(2048, ge=0, le=256 * 1024 * 1024)
    """Body size of `/search?q=` (dynamic)."""
    content_version: str = "v1"
    """Part of every ETag; change it to make every cached object stale-but-different."""


class Dependency(_Strict):
    """A backend the origin's dynamic routes call (a database, an auth service, a cloud API).

    Its state is switched at run time on the origin's admin port (`POST /dependency`): `down`
    models a dependency that resolves nowhere (AWS us-east-1, 2025-10-20): each call fails after
    `failure_ms`, holding the worker, and the route answers 500. `slow` adds `slow_ms`.
    """

    name: str = "db"
    routes: tuple[str, ...] = ("api", "search", "login")
    """Route classes that call the dependency (static and page content do not)."""
    failure_ms: float = Field(50.0, ge=0)
    """How long a failing call takes to fail (resolver and connect timeouts)."""
    slow_ms: float = Field(500.0, ge=0)
    """Extra latency per call while the dependency is `slow`."""


class OriginProfile(_Strict):
    """Everything `edgelab origin` is: name, capacity, routes, seed."""

    name: str = "origin"
    capacity: Capacity = Capacity()
    routes: Routes = Routes()
    dependency: Dependency = Dependency()
    seed: int | None = None
    """Seed for service-time draws; the same seed replays the same sequence."""
