"""Lab file -> what to run: process specs and Toxiproxy links. Pure: no sockets, no processes.

    spec = origin_spec(lab.origins[0])
    spec.command, spec.listeners            # "origin", {"http": Listener("--port", 0)}
    argv(spec, "/usr/bin/python3", Path("ports/origin.json"))
    # [python, "-m", "edgelab", "origin", "--profile", ..., "--port", "0", "--port-file", ...]

The supervisor starts processes in tiers, because later argv depend on earlier addresses:
origins, toxiproxy and control first (independent); then the origin links; then the POPs (their
origin is their link, or the origin itself without toxiproxy); then the client links; then
steering (its targets are the POPs and the direct path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from edgelab.lab.model import CdnSpec, LabFile, Links, OriginSpec, Restart, Supervision

Role = Literal["origin", "edge", "control", "toxiproxy", "steering"]
LinkKind = Literal["origin", "direct", "client"]

COMMANDS: Mapping[Role, str] = {
    "origin": "origin",
    "edge": "edge",
    "control": "control",
    "toxiproxy": "toxiproxy",
    "steering": "steer",
}
"""The `edgelab` command that runs each role."""


@dataclass(frozen=True)
class Listener:
    """One listening socket of a process: the flag that sets its port, and the port (0 = any)."""

    flag: str
    port: int = 0


@dataclass(frozen=True)
class ProcessSpec:
    """What the supervisor needs to run, check and restart one process; no addresses yet."""

    name: str
    """Unique in the lab: `origin`, `edge-a-1`, `toxiproxy`, `control`, `steering`."""
    role: Role
    args: tuple[str, ...]
    """Arguments after the command, other than the listeners' ports and `--port-file`."""
    listeners: Mapping[str, Listener]
    """Listener name (as the process writes it in its port file) -> port flag and port."""
    health: tuple[str | None, str]
    """(listener, path) answering 200 once ready; listener None = the first one in the port file."""
    supervision: Supervision = Supervision()
    files: Mapping[str, str] = field(default_factory=dict)
    """Files to write into the lab's directory before start: relative path -> content."""
    cdn: str | None = None
    """For a POP, its fleet (`cdn-a`)."""
    dirs: tuple[str, ...] = ()
    """Directories to create in the lab's directory (relative paths, also used in `args`)."""

    @property
    def command(self) -> str:
        return COMMANDS[self.role]


@dataclass(frozen=True)
class LinkSpec:
    """One Toxiproxy proxy the lab creates: `name` listens and forwards to `target`'s listener."""

    name: str
    kind: LinkKind
    target: str
    """Process whose address is the upstream (an origin or a POP), or `external` for the user's
    own origin."""
    target_listener: str
    listen_port: int = 0
    """0 = a free port picked at `up`."""


def argv(
    spec: ProcessSpec,
    python: str,
    port_file: Path,
    ports: Mapping[str, int] | None = None,
) -> list[str]:
    """The command line of `spec`; `ports` (listener -> port) overrides, e.g. on a restart."""
    line = [python, "-m", "edgelab", spec.command, *spec.args]
    for name, listener in spec.listeners.items():
        port = (ports or {}).get(name, listener.port)
        line += [listener.flag, str(port)]
    return [*line, "--port-file", str(port_file)]


def origin_spec(origin: OriginSpec) -> ProcessSpec:
    """`edgelab origin` with its profile written into the lab's directory."""
    profile = origin.profile.model_copy(update={"name": origin.name})
    path = f"config/{origin.name}.yaml"
    return ProcessSpec(
        name=origin.name,
        role="origin",
        args=("--profile", path),
        listeners={
            "http": Listener("--port", origin.port or 0),
            "admin": Listener("--admin-port", origin.admin_port or 0),
        },
        health=("http", "/healthz"),
        supervision=origin.supervision,
        files={path: yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)},
    )


def toxiproxy_spec(lab: LabFile) -> ProcessSpec:
    """`edgelab toxiproxy`; its health is Toxiproxy's `/version`, which the real one has too."""
    return ProcessSpec(
        name="toxiproxy",
        role="toxiproxy",
        args=(),
        listeners={"api": Listener("--port", lab.toxiproxy.port or 0)},
        health=(None, "/version"),
        supervision=lab.toxiproxy.supervision,
    )


def control_spec(lab: LabFile) -> ProcessSpec:
    """`edgelab control`, the control plane."""
    return ProcessSpec(
        name="control",
        role="control",
        args=("--state-dir", "control-state"),
        dirs=("control-state",),
        listeners={"http": Listener("--port", lab.control.port or 0)},
        health=(None, "/healthz"),
        supervision=lab.control.supervision,
    )


def pop_names(cdn: CdnSpec) -> list[str]:
    """`edge-<cdn>-<i>` for i from 1."""
    return [f"edge-{cdn.name}-{i}" for i in range(1, cdn.pops + 1)]


def edge_spec(cdn: CdnSpec, index: int, origin_url: str, control_url: str | None) -> ProcessSpec:
    """POP `index` (from 1) of `cdn`, fetching from `origin_url`, its config file written first.

    `control_url` is where the POP subscribes for pushed artifacts (when the control plane runs).
    """
    name = f"edge-{cdn.name}-{index}"
    config = cdn.edge.model_dump(mode="json")
    config.update(pop=name, cdn=f"cdn-{cdn.name}", origin=origin_url)
    if control_url is not None:
        config["control"] = {**(config.get("control") or {}), "url": control_url}
    path = f"config/{name}.yaml"
    base = cdn.base_port
    return ProcessSpec(
        name=name,
        role="edge",
        args=("--config", path),
        listeners={
            "proxy": Listener("--port", base + 2 * (index - 1) if base else 0),
            "admin": Listener("--admin-port", base + 2 * (index - 1) + 1 if base else 0),
        },
        health=("admin", "/healthz"),
        supervision=cdn.supervision,
        files={path: yaml.safe_dump(config, sort_keys=False)},
        cdn=f"cdn-{cdn.name}",
    )


STEERING_SERVICES = {"multi-cdn": "www", "dns-failover": "failover"}
"""Steering service a client bypass asks: `www` chooses CDN A, CDN B, then the origin (multi-CDN);
`failover` chooses CDN A, then the origin (DNS failover to the origin, the grey-cloud move)."""


def steering_spec(lab: LabFile, targets: Sequence[tuple[str, Sequence[str]]]) -> ProcessSpec:
    """`edgelab steer` with two services over `targets` ((name, URLs) in priority order, named
    as the load tests understand them: `cdn-a`, `cdn-b`, `origin`): `www` has them all, and
    `failover` only the first CDN and the origin."""
    entries = [{"name": name, "urls": list(urls)} for name, urls in targets]
    first_cdn = next((e for e in entries if e["name"] != "origin"), None)
    origin = [e for e in entries if e["name"] == "origin"]
    services = {STEERING_SERVICES["multi-cdn"]: entries}
    if first_cdn is not None and origin:
        services[STEERING_SERVICES["dns-failover"]] = [first_cdn, *origin]
    config = {
        "ttl_s": lab.steering.ttl_s,
        "health": {"interval_s": lab.steering.interval_s},
        "services": services,
    }
    path = "config/steering.yaml"
    return ProcessSpec(
        name="steering",
        role="steering",
        args=("--config", path),
        listeners={"http": Listener("--port", lab.steering.port or 0)},
        health=(None, "/healthz"),
        supervision=lab.steering.supervision,
        files={path: yaml.safe_dump(config, sort_keys=False)},
    )


def links(lab: LabFile, external_origin: bool) -> list[LinkSpec]:
    """Every Toxiproxy proxy the lab file asks for, in a stable order (fixed ports follow it)."""
    wanted: Links = lab.toxiproxy.links
    out: list[LinkSpec] = []
    for cdn in lab.cdns:
        target = "external" if external_origin else lab.origin_of(cdn).name
        if wanted.origin:
            out += [LinkSpec(f"{pop}-origin", "origin", target, "http") for pop in pop_names(cdn)]
    if wanted.direct:
        target = "external" if external_origin else lab.origins[0].name
        out.append(LinkSpec("origin-direct", "direct", target, "http"))
    if wanted.clients:
        for cdn in lab.cdns:
            out += [LinkSpec(f"client-{pop}", "client", pop, "proxy") for pop in pop_names(cdn)]
    if wanted.base_port:
        out = [
            LinkSpec(link.name, link.kind, link.target, link.target_listener, wanted.base_port + i)
            for i, link in enumerate(out)
        ]
    return out


def should_restart(supervision: Supervision, exit_code: int, restarts: int) -> bool:
    """Whether an unexpected exit with `exit_code` after `restarts` restarts calls for another."""
    if restarts >= supervision.max_restarts or supervision.restart is Restart.never:
        return False
    return supervision.restart is Restart.always or exit_code != 0
