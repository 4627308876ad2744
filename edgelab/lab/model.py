"""The lab file: which processes make up a lab and how they are wired. Frozen, validated.

    lab = load_lab(Path("lab.yaml"))        # or load_lab(None) for the default lab shipped here
    [c.name for c in lab.cdns]              # ["a", "b"]

A lab file is YAML with the shape of `LabFile`; every section has a default, so `{}` is a lab
with one origin and one CDN of one POP. Components that a build of edgelab lacks (a server
command not yet there) are skipped by the supervisor with a message; `enabled: false` leaves one
out on purpose. Ports are ephemeral unless a `port` is given.

    name: my-lab
    origins: [{name: origin, profile: {capacity: {workers: 8, queue: 64}}}]
    cdns:
      - {name: a, pops: 2}
      - {name: b, pops: 1, edge: {upstream: {read_timeout_s: 5}}}
    toxiproxy: {links: {origin: true, direct: true, clients: false}}
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgelab.config.edge import EdgeConfig
from edgelab.config.load import load_model, parse_model
from edgelab.origin.profile import OriginProfile

DEFAULT_LAB = "default.yaml"
"""The lab shipped inside the package (`edgelab/lab/default.yaml`)."""

Port = int | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Restart(StrEnum):
    """What the supervisor does when a process exits while the lab is up."""

    never = "never"
    """Report the exit and leave the process down (a chaos experiment may have killed it)."""
    on_failure = "on-failure"
    """Start it again (same ports) after a non-zero exit or a signal, up to `max_restarts`."""
    always = "always"
    """Start it again after any exit, up to `max_restarts`."""


class Supervision(_Strict):
    """How one process is supervised."""

    restart: Restart = Restart.never
    """`never` by default: an unexpected exit is reported; experiments decide what it means."""
    max_restarts: int = Field(3, ge=0)
    """Restarts allowed over the lab's life before the process is left down."""


class OriginSpec(_Strict):
    """One simulated origin (`edgelab origin`)."""

    name: str = Field("origin", pattern=r"^[a-z][a-z0-9-]*$")
    """Process name, also the origin profile's name."""
    profile: OriginProfile = OriginProfile()
    """The origin's capacity and routes (see `edgelab/origin/profile.py`); inline here."""
    port: Port = Field(None, ge=1, le=65535)
    """Fixed port; none = any free port."""
    admin_port: Port = Field(None, ge=1, le=65535)
    """Fixed port of its admin listener (dependency switch, metrics); none = any free port."""
    supervision: Supervision = Supervision()


class CdnSpec(_Strict):
    """One CDN: a fleet of POPs (`edgelab edge` processes) sharing one edge config."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]*$")
    """Short name: `a` gives the fleet `cdn-a` and POP processes `edge-a-1`, `edge-a-2`..."""
    pops: int = Field(1, ge=1, le=32)
    """Number of POPs (processes) in this CDN."""
    origin: str | None = None
    """Name of the origin its POPs fetch from; none = the first origin."""
    edge: EdgeConfig = EdgeConfig()
    """Edge config of every POP (`edgelab/config/edge.py`); `pop`, `cdn` and `origin` are set
    by the lab per POP, whatever is written here."""
    base_port: Port = Field(None, ge=1, le=65000)
    """Fixed ports: POP i (from 1) proxies on base_port + 2(i-1), admin on the next port;
    none = any free ports."""
    supervision: Supervision = Supervision()


class Links(_Strict):
    """Which network paths go through a Toxiproxy proxy, so experiments can break them."""

    origin: bool = True
    """Each POP reaches its origin through its own proxy `<pop>-origin`."""
    direct: bool = True
    """Bypass traffic reaches the first origin through `origin-direct` (the DNS-failover and
    retry-direct paths)."""
    clients: bool = False
    """Clients reach each POP through a proxy `client-<pop>` (faults between users and edge)."""
    base_port: Port = Field(None, ge=1, le=65000)
    """Fixed listen ports from here on, in link order; none = free ports picked at `up`."""


class ToxiproxySpec(_Strict):
    """The network fault proxy (`edgelab toxiproxy`, Toxiproxy's REST API)."""

    enabled: bool = True
    port: Port = Field(None, ge=1, le=65535)
    """Fixed REST API port (Toxiproxy's own default is 8474); none = any free port."""
    links: Links = Links()
    supervision: Supervision = Supervision()


class ControlSpec(_Strict):
    """The control plane (`edgelab control`) that pushes artifacts to every POP."""

    enabled: bool = True
    port: Port = Field(None, ge=1, le=65535)
    """Fixed port; none = any free port."""
    supervision: Supervision = Supervision()


class SteeringSpec(_Strict):
    """Steering (`edgelab steer`): the DNS/GSLB model clients ask which target to use."""

    enabled: bool = True
    port: Port = Field(None, ge=1, le=65535)
    """Fixed port; none = any free port."""
    ttl_s: float = Field(5.0, gt=0)
    """TTL of its answers, in lab seconds."""
    interval_s: float = Field(1.0, gt=0)
    """Health-check interval, in lab seconds."""
    supervision: Supervision = Supervision()


class LabFile(_Strict):
    """A whole lab: origins, CDNs, links, control plane and steering."""

    name: str = "lab"
    """Shown by `status` and recorded in the state file."""
    origins: tuple[OriginSpec, ...] = Field((OriginSpec(),), min_length=1)
    """At least one; replaced by the user's own origin with `--origin-url`."""
    cdns: tuple[CdnSpec, ...] = (CdnSpec(name="a"),)
    toxiproxy: ToxiproxySpec = ToxiproxySpec()
    control: ControlSpec = ControlSpec()
    steering: SteeringSpec = SteeringSpec()
    start_timeout_s: float = Field(60.0, gt=0)
    """How long one process may take from spawn to a healthy `/healthz` (generous: a busy
    machine imports slowly)."""
    stop_timeout_s: float = Field(15.0, gt=0)
    """SIGTERM, then SIGKILL after this long (a POP drains in-flight requests first)."""

    @model_validator(mode="after")
    def _names_and_refs(self) -> LabFile:
        origins = [o.name for o in self.origins]
        if len(set(origins)) != len(origins):
            raise ValueError(f"origin names must be unique, got {origins}")
        cdns = [c.name for c in self.cdns]
        if len(set(cdns)) != len(cdns):
            raise ValueError(f"cdn names must be unique, got {cdns}")
        for cdn in self.cdns:
            if cdn.origin is not None and cdn.origin not in origins:
                raise ValueError(f"cdn {cdn.name}: origin {cdn.origin!r} is not one of {origins}")
        return self

    def origin_of(self, cdn: CdnSpec) -> OriginSpec:
        """The origin spec `cdn`'s POPs fetch from."""
        name = cdn.origin or self.origins[0].name
        return next(o for o in self.origins if o.name == name)


def _merge(base: Any, over: Any) -> Any:
    """`over` deep-merged onto `base` (mappings merge key by key; anything else replaces)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over
        }
    return over


def overlay(
    lab: LabFile,
    overrides: dict[str, Any] | None = None,
    edge: dict[str, Any] | None = None,
    source: str = "lab overrides",
) -> LabFile:
    """A copy of `lab` with `overrides` deep-merged onto it and `edge` onto every CDN's edge
    config (what an experiment or a variant changes). Raises ConfigError naming `source`.

        overlay(load_lab(None), {"cdns": [{"name": "a", "pops": 1}]}, {"upstream": {"read_timeout_s": 2}})

    A list in `overrides` replaces the lab's list whole (`cdns`, `origins`).
    """
    data = _merge(lab.model_dump(mode="json"), overrides or {})
    if edge:
        for cdn in data.get("cdns", []):
            cdn["edge"] = _merge(cdn.get("edge", {}), edge)
    return parse_model(data, LabFile, source)


def default_lab_text() -> str:
    """The YAML of the lab shipped with edgelab."""
    return resources.files("edgelab.lab").joinpath(DEFAULT_LAB).read_text(encoding="utf-8")


def load_lab(path: Path | None) -> LabFile:
    """Read and validate a lab file, or the default lab when `path` is None.

    Raises ConfigError naming the file, the field and the reason.
    """
    if path is not None:
        return load_model(path, LabFile)
    import yaml

    data: Any = yaml.safe_load(default_lab_text())
    return parse_model(data, LabFile, f"(default lab) {DEFAULT_LAB}")


__all__ = [
    "CdnSpec",
    "ControlSpec",
    "LabFile",
    "Links",
    "OriginSpec",
    "Restart",
    "SteeringSpec",
    "Supervision",
    "ToxiproxySpec",
    "load_lab",
    "overlay",
]
