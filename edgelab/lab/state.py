"""The lab's state file (`.edgelab/lab.json`): where every process listens, its pid, its log.

    state = read_state(Path(".edgelab/lab.json"))
    state.processes["edge-a-1"].addresses["proxy"]     # "http://127.0.0.1:40123"
    state.endpoints.cdns["a"]                          # proxy URLs of CDN A's POPs
    state.links["origin-direct"].listen                # "127.0.0.1:40200"

Written by the supervisor as the lab comes up (after every spawn, so `down` from another shell
finds even a half-started lab), on every exit and restart, and at the end. `status`, `down`, the
chaos runner and Locust read it. The format is documented in docs/contracts.md; `schema` changes
when a field changes meaning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgelab.errors import ConfigError

SCHEMA = 1
LabStatus = Literal["starting", "up", "stopping", "stopped", "failed"]
ProcessStatus = Literal["starting", "up", "exited", "stopped", "skipped"]


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ProcessState(_State):
    name: str
    role: str
    cdn: str | None = None
    """For a POP, its fleet as in its edge config (`cdn-a`)."""
    command: list[str]
    """The argv it was started with."""
    pid: int | None = None
    ident: str | None = None
    """Process start time (Linux clock ticks): a pid whose start time differs is not ours."""
    status: ProcessStatus = "starting"
    addresses: dict[str, str] = {}
    """Listener -> URL, from the process's own port file."""
    health: str | None = None
    """URL that answers 200 while the process is ready."""
    log: str
    """Its stdout and stderr (`edgelab lab logs NAME`)."""
    restarts: int = 0
    exit_code: int | None = None
    """Last exit code (negative: killed by that signal)."""


class LinkState(_State):
    name: str
    """The Toxiproxy proxy's name (use it with any Toxiproxy client)."""
    kind: Literal["origin", "direct", "client"]
    listen: str
    """host:port the proxy listens on."""
    upstream: str
    """host:port it forwards to."""
    url: str
    """`http://<listen>`: what the link's users connect to."""


class Endpoints(_State):
    """What load generators and experiments talk to."""

    cdns: dict[str, list[str]] = {}
    """CDN name -> its POPs' client-facing URLs (through the client links when there are)."""
    origin: str | None = None
    """The origin the POPs fetch from (simulated, or the user's `--origin-url`)."""
    origin_direct: str | None = None
    """Bypass path to the origin: the `origin-direct` link, or the origin itself without it."""
    toxiproxy: str | None = None
    """Toxiproxy REST API."""
    control: str | None = None
    steering: str | None = None


class LabState(_State):
    schema_: int = Field(SCHEMA, alias="schema")
    name: str
    lab_file: str | None = None
    """The lab file used; None = the default lab."""
    run_dir: str
    status: LabStatus = "starting"
    supervisor_pid: int
    supervisor_ident: str | None = None
    started_at: float
    updated_at: float
    origin_external: bool = False
    """True when the POPs front the user's own origin (`--origin-url`)."""
    origin: dict[str, float] | None = None
    """The simulated origin's capacity (what a surge overwhelms): `workers`, `queue`,
    `queue_timeout_s`, `mean_service_ms`; None for the user's own origin. Reports read it."""
    processes: dict[str, ProcessState] = {}
    """In start order."""
    links: dict[str, LinkState] = {}
    skipped: dict[str, str] = {}
    """Component -> why it is not running (e.g. its command is not in this build)."""
    endpoints: Endpoints = Endpoints()


def locust_targets(state: LabState, bypass: str = "none") -> dict[str, object] | None:
    """The targets file Locust reads (`--edgelab-targets`, `edgelab.loadgen.targets`) for this
    lab: CDN `a` and `b` POPs, the direct origin path, steering. None without a CDN `a`."""
    ep = state.endpoints
    if not ep.cdns.get("a"):
        return None
    targets: dict[str, object] = {"cdn-a": ep.cdns["a"], "cdn-b": ep.cdns.get("b", [])}
    if ep.origin_direct:
        targets["origin"] = ep.origin_direct
    if ep.steering:
        from edgelab.lab.plan import STEERING_SERVICES

        targets["steering"] = {"url": ep.steering, "service": STEERING_SERVICES.get(bypass, "www")}
    targets["bypass"] = bypass
    return targets


def write_state(path: Path, state: LabState) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state.model_dump(mode="json", by_alias=True), indent=2) + "\n")
    tmp.replace(path)


def read_state(path: Path) -> LabState:
    """Read the state file; raises ConfigError when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no lab state here (is a lab up? `edgelab lab up`)") from e
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: unreadable lab state: {e}") from e
    try:
        return LabState.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            f"{path}: not an edgelab lab state file ({e.error_count()} errors)"
        ) from e
