"""Steering configuration: services, their targets in priority order, and health checks.

    config = load_model(Path("steering.yaml"), SteeringConfig)

```yaml
ttl_s: 5
health: {interval_s: 1, timeout_s: 1, failures_to_down: 3, successes_to_up: 2, path: /page/1}
services:
  www:                                 # GET /resolve?service=www
    - {name: cdn-a, urls: [http://127.0.0.1:8000, http://127.0.0.1:8002]}
    - {name: cdn-b, urls: [http://127.0.0.1:8100]}
    - {name: origin, urls: [http://127.0.0.1:8081]}
```

Health checks go to each URL + `path` with ordinary client headers, so they see a POP the way
users do: a POP whose process is up but answers 500 is down.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheck(_Strict):
    """How targets are probed and what counts as healthy."""

    interval_s: float = Field(1.0, gt=0)
    """Seconds between two checks of one URL."""
    timeout_s: float = Field(1.0, gt=0)
    """A check without a full answer in this time fails (recorded as status 0)."""
    failures_to_down: int = Field(3, ge=1)
    """Consecutive failed checks that mark an up URL down."""
    successes_to_up: int = Field(2, ge=1)
    """Consecutive passed checks that mark a down URL up again."""
    path: str = "/page/1"
    """What a check requests, through the target like a user's request (not a /healthz)."""
    healthy: tuple[StatusClass, ...] = ("2xx", "3xx")
    """Status classes a check passes with."""
    max_5xx_ratio: float | None = Field(None, ge=0, le=1)
    """Optionally, a check also fails while more than this share of the last `window` checks
    got a 5xx (catches a POP that fails only some of its requests)."""
    window: int = Field(10, ge=1)
    """Checks the 5xx ratio is computed over."""
    headers: dict[str, str] = Field(
        default_factory=lambda: {
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) edgelab-steer/1 health check",
            "Accept": "text/html,*/*;q=0.8",
            "Accept-Language": "en",
        }
    )
    """Headers each check sends (browser-like, so bot management treats it as a user)."""

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with /")
        return v


class Target(_Strict):
    """One answer steering can give: a name clients understand and its URLs (POPs)."""

    name: str = Field(min_length=1)
    """`cdn-a`, `cdn-b` or `origin` for edgelab's load tests; any name otherwise."""
    urls: list[str] = Field(min_length=1)
    """Each URL is health-checked on its own; answers list the ones that are up."""

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for u in v:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"must be http:// URLs, got {u!r}")
        return [u.rstrip("/") for u in v]


class SteeringConfig(_Strict):
    """Everything `edgelab steer` is."""

    ttl_s: float = Field(5.0, ge=0)
    """How long a client may cache an answer (the DNS TTL)."""
    health: HealthCheck = HealthCheck()
    services: dict[str, list[Target]] = Field(default_factory=dict)
    """Service name -> targets in priority order: the first one that is up answers."""

    @model_validator(mode="after")
    def _targets(self) -> SteeringConfig:
        for name, targets in self.services.items():
            if not targets:
                raise ValueError(f"service {name} has no targets")
            names = [t.name for t in targets]
            if len(set(names)) != len(names):
                raise ValueError(f"service {name}: target names repeat")
        return self

    def urls(self) -> list[str]:
        """Every URL to health-check, once each, in config order."""
        seen: dict[str, None] = {}
        for targets in self.services.values():
            for target in targets:
                seen.update(dict.fromkeys(target.urls))
        return list(seen)


def parse_target_flag(text: str) -> Target:
    """`--target cdn-a=http://127.0.0.1:8000,http://127.0.0.1:8002` -> Target."""
    from edgelab.config.load import parse_model

    name, sep, urls = text.partition("=")
    if not sep:
        from edgelab.errors import ConfigError

        raise ConfigError(f"--target: {text!r} is not NAME=URL[,URL...]")
    data = {"name": name.strip(), "urls": [u.strip() for u in urls.split(",") if u.strip()]}
    return parse_model(data, Target, f"--target {name}")


def with_flags(
    config: SteeringConfig,
    service: str,
    targets: list[str],
    ttl_s: float | None = None,
    **health: object,
) -> SteeringConfig:
    """`config` with the command line's targets (for `service`), TTL and health knobs applied.

    Raises ConfigError naming the flag when a value is invalid.
    """
    from edgelab.config.load import parse_model

    data = config.model_dump()
    if targets:
        data["services"][service] = [parse_target_flag(t).model_dump() for t in targets]
    if ttl_s is not None:
        data["ttl_s"] = ttl_s
    data["health"].update({k: v for k, v in health.items() if v is not None})
    return parse_model(data, SteeringConfig, "flags")
