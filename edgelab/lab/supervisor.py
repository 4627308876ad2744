"""Bring a lab up, keep it up, take it down: the `Lab` the CLI, the chaos runner and the demo use.

    async with Lab.from_file(None, run_dir=Path(".edgelab")) as lab:   # None = the default lab
        lab.state.endpoints.cdns["a"]          # client-facing URLs of CDN A's POPs
        lab.state.links["edge-a-1-origin"]     # the Toxiproxy proxy between edge-a-1 and origin
        os.kill(lab.pid("edge-a-1"), signal.SIGKILL)   # a chaos action; the exit is reported
        await lab.restart("edge-a-1")          # same ports, so nothing else needs to know
    # every process stopped here, also on error or Ctrl-C

Each process is `sys.executable -m edgelab <command> ... --port 0 --port-file F`: the supervisor
waits for the port file and a 200 from the process's health URL, then records its addresses in
the state file (`<run_dir>/lab.json`). Logs go to `<run_dir>/logs/<name>.log`. An unexpected exit
is reported (`on_event`) and restarted only where the lab file says so. A failure or a
cancellation during `up` stops what was started; children run in their own process groups and
die with the supervisor (see `procs.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from types import TracebackType
from typing import Literal

import aiohttp
from yarl import URL

import edgelab
from edgelab.config.edge import EdgeConfig
from edgelab.config.load import parse_model
from edgelab.errors import ConfigError, EdgelabError, PortInUse, ProcessFailed
from edgelab.lab import plan
from edgelab.lab.model import LabFile, load_lab
from edgelab.lab.plan import LinkSpec, ProcessSpec
from edgelab.lab.procs import alive, identity, spawn, terminate, wait_exit
from edgelab.lab.state import (
    Endpoints,
    LabState,
    LinkState,
    ProcessState,
    locust_targets,
    read_state,
    write_state,
)
from edgelab.lab.wiring import free_port, populate, port_free

logger = logging.getLogger(__name__)

STATE_FILE = "lab.json"
"""The state file's name inside the lab's directory."""
TARGETS_FILE = "targets.json"
"""Locust's targets file, written next to the state file (`--edgelab-targets`)."""
_POLL_S = 0.05
"""How often a starting process is looked at (port file, then health URL)."""

EventKind = Literal[
    "starting", "up", "skipped", "linked", "exited", "restarting", "failed", "stopping", "stopped"
]


@dataclass(frozen=True)
class LabEvent:
    """Something the lab did or saw; the CLI prints these as progress."""

    kind: EventKind
    name: str
    """A process, a link, or `lab`."""
    detail: str = ""
    pid: int | None = None
    address: str | None = None


EventHandler = Callable[[LabEvent], None]


def available_commands() -> set[str]:
    """The `edgelab` commands this build has (a lab skips components whose command is missing)."""
    import typer.main

    from edgelab.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def last_line(log: Path) -> str:
    """The last non-empty line of a log file (why a process died), or ''."""
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    return next((ln for ln in reversed(lines) if ln), "")


async def _check_reachable(url: str, what: str, timeout_s: float = 5.0) -> None:
    """A TCP connection to `url`'s host and port opens; else one EdgelabError line."""
    u = URL(url)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(u.host, u.port), timeout_s)
    except TimeoutError as e:
        raise EdgelabError(f"{what} {url}: no answer to a TCP connect in {timeout_s:g} s") from e
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise EdgelabError(f"{what} {url}: cannot connect: {reason}") from e
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _read_port_file(path: Path) -> dict[str, str] | None:
    """The addresses a process wrote once listening, or None while it has not."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) and data else None


def _port_of(address: str) -> int:
    port = URL(address).port
    assert port is not None
    return port


def _hostport(address: str) -> str:
    u = URL(address)
    return f"{u.host}:{u.port}"


@dataclass
class _Running:
    spec: ProcessSpec
    child: Popen[bytes]
    watcher: asyncio.Task[None] | None = None
    expected_exit: bool = False


class Lab:
    """One lab: its processes, its links and its state file."""

    def __init__(
        self,
        lab: LabFile,
        run_dir: Path,
        *,
        lab_file: Path | None = None,
        origin_url: str | None = None,
        python: str = sys.executable,
        on_event: EventHandler | None = None,
        available: Collection[str] | None = None,
    ) -> None:
        """`origin_url` puts that origin behind the POPs instead of the simulated one;
        `available` overrides the set of `edgelab` commands this build has (tests)."""
        if origin_url is not None:
            parse_model({"origin": origin_url}, EdgeConfig, "--origin-url")
        self.lab = lab
        self.run_dir = run_dir.resolve()
        self.lab_file = lab_file
        self.origin_url = origin_url
        self.python = python
        self.on_event = on_event or (lambda _e: None)
        self.available = set(available) if available is not None else available_commands()
        self.state_file = self.run_dir / STATE_FILE
        self.state = LabState(
            name=lab.name,
            lab_file=str(lab_file) if lab_file else None,
            run_dir=str(self.run_dir),
            supervisor_pid=os.getpid(),
            supervisor_ident=identity(os.getpid()),
            started_at=time.time(),
            updated_at=time.time(),
            origin_external=origin_url is not None,
        )
        self._running: dict[str, _Running] = {}
        self._links: list[LinkSpec] = []
        self._stopping = False
        self._started = False

    @classmethod
    def from_file(
        cls,
        path: Path | None,
        *,
        run_dir: Path,
        origin_url: str | None = None,
        python: str = sys.executable,
        on_event: EventHandler | None = None,
        available: Collection[str] | None = None,
    ) -> Lab:
        """Load and validate `path` (None = the default lab); raises ConfigError."""
        return cls(
            load_lab(path),
            run_dir,
            lab_file=path,
            origin_url=origin_url,
            python=python,
            on_event=on_event,
            available=available,
        )

    async def __aenter__(self) -> Lab:
        await self.up()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.down()

    # -- queries ------------------------------------------------------------------------------

    def pid(self, name: str) -> int:
        """The pid of process `name` now (it changes on restart); raises KeyError."""
        pid = self.state.processes[name].pid
        if pid is None:
            raise KeyError(name)
        return pid

    def address(self, name: str, listener: str | None = None) -> str:
        """`http://host:port` of `name`'s `listener` (the first one when None)."""
        addresses = self.state.processes[name].addresses
        return addresses[listener] if listener else next(iter(addresses.values()))

    # -- up -----------------------------------------------------------------------------------

    async def up(self) -> None:
        """Start every process, wire the links, write the state; stops everything on failure.

        Raises ConfigError, PortInUse, ProcessFailed or EdgelabError with one line.
        """
        if self._started:
            raise EdgelabError("this lab was already brought up once; make a new Lab")
        self._started = True
        self._refuse_if_running()
        for sub in ("logs", "ports", "config"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self._write()
        try:
            await self._up()
        except BaseException:
            self.state.status = "failed"
            await self._stop_all()
            raise
        self.state.status = "up"
        self._write()

    def _refuse_if_running(self) -> None:
        if not self.state_file.exists():
            return
        with contextlib.suppress(ConfigError):
            old = read_state(self.state_file)
            if old.status in ("starting", "up", "stopping") and alive(
                old.supervisor_pid, old.supervisor_ident
            ):
                raise EdgelabError(
                    f"{self.run_dir}: a lab is already up here (supervisor pid "
                    f"{old.supervisor_pid}); run `edgelab lab down` first or use another --dir"
                )
            # a dead supervisor's children died with it (parent-death signal); make sure
            from edgelab.lab.procs import terminate_by_pid

            for ps in old.processes.values():
                if ps.pid is not None:
                    terminate_by_pid(ps.pid, ps.ident, self.lab.stop_timeout_s)

    async def _up(self) -> None:
        lab = self.lab
        external = self.origin_url is not None
        self._check_fixed_ports()
        if self.origin_url is not None:
            await _check_reachable(self.origin_url, "--origin-url")
        if lab.origins and not external:
            p = lab.origins[0].profile.capacity
            self.state.origin = {
                "workers": p.workers,
                "queue": p.queue,
                "queue_timeout_s": p.queue_timeout_s,
                "mean_service_ms": p.service_time.mean_ms,
            }
        first: list[ProcessSpec] = [] if external else [plan.origin_spec(o) for o in lab.origins]
        if self._wanted("toxiproxy", lab.toxiproxy.enabled):
            first.append(plan.toxiproxy_spec(lab))
        if self._wanted("control", lab.control.enabled):
            first.append(plan.control_spec(lab))
        await self._start_all(first)

        if "toxiproxy" in self._running:
            self._links = plan.links(lab, external)
        await self._wire([link for link in self._links if link.kind != "client"])

        control = self._running.get("control")
        control_url = self.address("control") if control else None
        edges = [
            plan.edge_spec(cdn, i, self._origin_for(name, cdn.name), control_url)
            for cdn in lab.cdns
            for i, name in enumerate(plan.pop_names(cdn), start=1)
        ]
        await self._start_all(edges)
        await self._wire([link for link in self._links if link.kind == "client"])
        self._update_endpoints()

        if self._wanted("steering", lab.steering.enabled):
            targets: list[tuple[str, Sequence[str]]] = [
                (f"cdn-{cdn}", urls) for cdn, urls in self.state.endpoints.cdns.items() if urls
            ]
            direct = self.state.endpoints.origin_direct
            if direct is not None:
                targets.append(("origin", [direct]))
            await self._start_all([plan.steering_spec(lab, targets)])
            self._update_endpoints()

    def _wanted(self, role: plan.Role, enabled: bool) -> bool:
        command = plan.COMMANDS[role]
        if not enabled:
            reason = "disabled in the lab file"
        elif command not in self.available:
            reason = f"edgelab {command} is not available in this build"
        else:
            return True
        self.state.skipped[role] = reason
        self._emit(LabEvent("skipped", role, reason))
        return False

    def _check_fixed_ports(self) -> None:
        """Fixed ports from the lab file must be free: one line naming the field otherwise."""
        source = str(self.lab_file) if self.lab_file else "(default lab)"
        lab = self.lab
        fixed: list[tuple[str, int | None]] = [
            ("toxiproxy.port", lab.toxiproxy.port),
            ("control.port", lab.control.port),
            ("steering.port", lab.steering.port),
        ]
        if self.origin_url is None:
            for i, o in enumerate(lab.origins):
                fixed += [(f"origins.{i}.port", o.port), (f"origins.{i}.admin_port", o.admin_port)]
        for i, cdn in enumerate(lab.cdns):
            if cdn.base_port:
                fixed += [(f"cdns.{i}.base_port", cdn.base_port + k) for k in range(2 * cdn.pops)]
        for link in plan.links(lab, self.origin_url is not None):
            if link.listen_port:
                fixed.append(("toxiproxy.links.base_port", link.listen_port))
        for field, port in fixed:
            if port and not port_free("127.0.0.1", port):
                raise PortInUse(
                    f"{source}: {field}: 127.0.0.1:{port} is already in use "
                    "(choose another port, or leave it out for a free one)"
                )

    def _origin_for(self, pop: str, cdn: str) -> str:
        """What POP `pop` uses as its origin: its link, else the origin itself."""
        link = self.state.links.get(f"{pop}-origin")
        if link is not None:
            return link.url
        if self.origin_url is not None:
            return self.origin_url
        spec = next(c for c in self.lab.cdns if c.name == cdn)
        return self.address(self.lab.origin_of(spec).name, "http")

    def _update_endpoints(self) -> None:
        ep = Endpoints()
        for cdn in self.lab.cdns:
            urls = []
            for pop in plan.pop_names(cdn):
                client = self.state.links.get(f"client-{pop}")
                if client is not None:
                    urls.append(client.url)
                elif pop in self._running:
                    urls.append(self.address(pop, "proxy"))
            ep.cdns[cdn.name] = urls
        if self.origin_url is not None:
            ep.origin = self.origin_url
        elif self.lab.origins[0].name in self._running:
            ep.origin = self.address(self.lab.origins[0].name, "http")
        direct = self.state.links.get("origin-direct")
        ep.origin_direct = direct.url if direct is not None else ep.origin
        for role in ("toxiproxy", "control", "steering"):
            if role in self._running:
                setattr(ep, role, self.address(role))
        self.state.endpoints = ep
        self._write()
        targets = locust_targets(self.state)
        if targets is not None:
            path = self.run_dir / TARGETS_FILE
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(targets, indent=2) + "\n")
            tmp.replace(path)

    async def _start_all(self, specs: Sequence[ProcessSpec]) -> None:
        """Start `specs` concurrently; the first failure cancels the rest and is raised alone."""
        try:
            async with asyncio.TaskGroup() as tg:
                for spec in specs:
                    tg.create_task(self._start(spec))
        except BaseExceptionGroup as group:
            first = next((e for e in group.exceptions if isinstance(e, EdgelabError)), None)
            if first is None:
                raise
            raise first from None

    async def _start(
        self, spec: ProcessSpec, ports: dict[str, int] | None = None, restarts: int = 0
    ) -> None:
        for rel, content in spec.files.items():
            path = self.run_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        port_file = self.run_dir / "ports" / f"{spec.name}.json"
        port_file.unlink(missing_ok=True)
        log = self.run_dir / "logs" / f"{spec.name}.log"
        command = plan.argv(spec, self.python, port_file, ports)
        # relative paths in args (config files) are relative to the lab's directory
        for rel in spec.dirs:
            (self.run_dir / rel).mkdir(parents=True, exist_ok=True)
        local = set(spec.files) | set(spec.dirs)
        command = [str(self.run_dir / a) if a in local else a for a in command]
        self._emit(LabEvent("starting", spec.name))
        child = spawn(command, log, env=self._child_env())
        # recorded before any await: a cancellation from here on still finds and stops it
        self._running[spec.name] = _Running(spec, child)
        ps = ProcessState(
            name=spec.name,
            role=spec.role,
            cdn=spec.cdn,
            command=command,
            pid=child.pid,
            ident=identity(child.pid),
            log=str(log),
            restarts=restarts,
        )
        self.state.processes[spec.name] = ps
        self._write()
        ps.addresses, ps.health = await self._wait_healthy(spec, child, port_file, log)
        ps.status = "up"
        self._write()
        health_listener = spec.health[0]
        shown = ps.addresses.get(health_listener or "", next(iter(ps.addresses.values()), ""))
        if spec.role == "edge":
            shown = ps.addresses.get("proxy", shown)
        self._emit(LabEvent("up", spec.name, "", child.pid, shown))
        self._running[spec.name].watcher = asyncio.create_task(self._watch(spec.name))

    def _child_env(self) -> dict[str, str]:
        """The environment plus PYTHONPATH naming this edgelab, so children run the same code."""
        env = dict(os.environ)
        root = str(Path(edgelab.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    async def _wait_healthy(
        self, spec: ProcessSpec, child: Popen[bytes], port_file: Path, log: Path
    ) -> tuple[dict[str, str], str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lab.start_timeout_s
        addresses: dict[str, str] | None = None
        timeout = aiohttp.ClientTimeout(total=2.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                code = child.poll()
                if code is not None:
                    why = last_line(log) or "no output"
                    raise ProcessFailed(
                        f"{spec.name} exited with code {code} before it was healthy: {why} "
                        f"(log: {log})"
                    )
                if addresses is None:
                    addresses = _read_port_file(port_file)
                if addresses:
                    listener, path = spec.health
                    base = addresses.get(listener or "", next(iter(addresses.values())))
                    health = base + path
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(health) as resp:
                            if resp.status == 200:
                                return addresses, health
                if loop.time() > deadline:
                    raise ProcessFailed(
                        f"{spec.name} was not healthy within {self.lab.start_timeout_s:g} s "
                        f"(start_timeout_s; log: {log})"
                    )
                await asyncio.sleep(_POLL_S)

    async def _wire(self, links: Sequence[LinkSpec]) -> None:
        """Create `links` on the lab's Toxiproxy (again, after it restarts)."""
        if not links:
            return
        triples = []
        for link in links:
            known = self.state.links.get(link.name)
            listen = known.listen if known else f"127.0.0.1:{link.listen_port or free_port()}"
            if link.target == "external":
                assert self.origin_url is not None
                upstream = _hostport(self.origin_url)
            else:
                upstream = _hostport(self.address(link.target, link.target_listener))
            triples.append((link.name, listen, upstream))
        proxies = await populate(self.address("toxiproxy"), triples)
        for link, (name, listen, upstream) in zip(links, triples, strict=True):
            got = proxies.get(name, {})
            bound = str(got.get("listen", listen))
            self.state.links[name] = LinkState(
                name=name, kind=link.kind, listen=bound, upstream=upstream, url=f"http://{bound}"
            )
            self._emit(LabEvent("linked", name, f"{bound} -> {upstream}"))
        self._write()

    # -- supervision --------------------------------------------------------------------------

    async def _watch(self, name: str) -> None:
        run = self._running[name]
        code = await wait_exit(run.child)
        if self._stopping or run.expected_exit:
            return
        ps = self.state.processes[name]
        ps.status, ps.exit_code = "exited", code
        self._write()
        why = last_line(Path(ps.log))
        self._emit(LabEvent("exited", name, f"exit code {code}: {why}", run.child.pid))
        if not plan.should_restart(run.spec.supervision, code, ps.restarts):
            return
        self._emit(LabEvent("restarting", name, f"restart {ps.restarts + 1}"))
        try:
            await self._start(run.spec, self._ports(name), ps.restarts + 1)
            if run.spec.role == "toxiproxy":
                await self._wire(self._links)
        except EdgelabError as e:
            self.state.processes[name].status = "exited"
            self._write()
            self._emit(LabEvent("failed", name, str(e)))

    def _ports(self, name: str) -> dict[str, int]:
        return {k: _port_of(v) for k, v in self.state.processes[name].addresses.items()}

    async def stop_process(self, name: str) -> int:
        """Stop process `name` on purpose (not restarted, not reported); its exit code."""
        run = self._running[name]
        run.expected_exit = True
        code = await terminate(run.child, self.lab.stop_timeout_s)
        ps = self.state.processes[name]
        ps.status, ps.exit_code = "stopped", code
        self._write()
        self._emit(LabEvent("stopped", name, f"exit code {code}"))
        return code

    async def start_process(self, name: str) -> None:
        """Start a stopped or exited process again, on the same ports (links re-created)."""
        run = self._running[name]
        if run.child.poll() is None:
            raise EdgelabError(f"{name} is running (pid {run.child.pid})")
        ps = self.state.processes[name]
        await self._start(run.spec, self._ports(name), ps.restarts + 1)
        if run.spec.role == "toxiproxy":
            await self._wire(self._links)

    async def restart(self, name: str) -> None:
        """Stop and start process `name` on the same ports; waits until it is healthy again."""
        if self._running[name].child.poll() is None:
            await self.stop_process(name)
        await self.start_process(name)

    # -- down ---------------------------------------------------------------------------------

    async def down(self) -> None:
        """Stop every process (SIGTERM, SIGKILL after `stop_timeout_s`) and mark the state."""
        await self._stop_all()
        if self.state.status != "failed":
            self.state.status = "stopped"
        self._write()

    async def _stop_all(self) -> None:
        self._stopping = True
        self.state.status = "stopping" if self.state.status != "failed" else "failed"
        self._write()
        for run in self._running.values():
            if run.watcher is not None:
                run.watcher.cancel()
        names = list(reversed(self._running))
        if names:
            self._emit(LabEvent("stopping", "lab", f"{len(names)} processes"))
        codes = await asyncio.gather(
            *(terminate(self._running[n].child, self.lab.stop_timeout_s) for n in names),
            return_exceptions=True,
        )
        for name, code in zip(names, codes, strict=True):
            ps = self.state.processes[name]
            if ps.status != "exited":
                ps.status = "stopped"
            if isinstance(code, int):
                ps.exit_code = code
            self._emit(LabEvent("stopped", name, f"exit code {code}", ps.pid))

    # -- helpers ------------------------------------------------------------------------------

    def _write(self) -> None:
        self.state.updated_at = time.time()
        write_state(self.state_file, self.state)

    def _emit(self, event: LabEvent) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not break the lab
            logger.exception("lab event handler failed on %s", event)


def stop_from_state(state_file: Path, timeout_s: float) -> list[str]:
    """`edgelab lab down`: stop a lab from any process, through the pids in its state file.

    Signals the supervisor first (it stops its children in order), then makes sure of every
    child itself (a pid is trusted only while its start time matches). Returns what was running.
    """
    from edgelab.lab.procs import terminate_by_pid

    state = read_state(state_file)
    running = [
        ps.name for ps in state.processes.values() if ps.pid is not None and alive(ps.pid, ps.ident)
    ]
    supervisor = state.supervisor_pid
    if supervisor != os.getpid() and alive(supervisor, state.supervisor_ident):
        terminate_by_pid(supervisor, state.supervisor_ident, timeout_s + 10.0, group=False)
        running.insert(0, f"supervisor (pid {supervisor})")
    for ps in reversed(list(state.processes.values())):
        if ps.pid is not None:
            terminate_by_pid(ps.pid, ps.ident, timeout_s)
    with contextlib.suppress(ConfigError):
        state = read_state(state_file)
    if state.status != "stopped":
        state.status = "stopped"
        for ps in state.processes.values():
            if ps.status in ("starting", "up"):
                ps.status = "stopped"
        state.updated_at = time.time()
        write_state(state_file, state)
    return running
