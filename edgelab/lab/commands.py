"""`edgelab lab up|down|status|logs|show-default`: thin commands over `Lab` and the state file.

edgelab lab up                        # the default lab, in the foreground; Ctrl-C stops it
edgelab lab up --detach               # same, in the background; returns once it is up
edgelab lab up --lab my-lab.yaml --origin-url http://staging.internal:8080
edgelab lab status                    # process, pid, address, health, artifact versions
edgelab lab logs edge-a-1             # follow one process's log
edgelab lab down                      # from any shell: stops everything the lab started
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edgelab.errors import EdgelabError

if TYPE_CHECKING:
    from edgelab.lab.state import LabState
    from edgelab.lab.status import ProcessRow

lab_app = typer.Typer(
    help="Start, inspect and stop a lab: origin, POPs of two CDNs, toxiproxy, control, steering.",
    no_args_is_help=True,
)

DirOpt = Annotated[
    Path,
    typer.Option("--dir", help="The lab's directory: state file lab.json, logs/, ports/, config/."),
]
DEFAULT_DIR = Path(".edgelab")


_STYLE = {
    "starting": "dim",
    "up": "green",
    "linked": "cyan",
    "skipped": "yellow",
    "exited": "bold red",
    "failed": "bold red",
    "restarting": "yellow",
    "stopping": "dim",
    "stopped": "dim",
}


@lab_app.command()
def up(
    lab_file: Annotated[
        Path | None, typer.Option("--lab", help="Lab file (YAML); default: the lab shipped.")
    ] = None,
    run_dir: DirOpt = DEFAULT_DIR,
    origin_url: Annotated[
        str | None,
        typer.Option(
            "--origin-url", help="Put your own origin (http://host:port) behind the POPs."
        ),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; return once up.")
    ] = False,
    compose: Annotated[
        bool,
        typer.Option(
            "--compose", help="Bring up compose/docker-compose.yml through Docker instead."
        ),
    ] = False,
) -> None:
    """Start a lab and supervise it until Ctrl-C (or `edgelab lab down` from another shell)."""
    if compose:
        from edgelab.lab.compose import compose_up

        compose_up(Path("compose/docker-compose.yml"))
        return
    if detach:
        _detach(lab_file, run_dir, origin_url)
        return
    from edgelab.lab.model import load_lab

    load_lab(lab_file)  # a bad lab file fails here, before anything starts
    asyncio.run(_run_foreground(lab_file, run_dir, origin_url))


async def _run_foreground(lab_file: Path | None, run_dir: Path, origin_url: str | None) -> None:
    from rich.console import Console

    from edgelab.lab.supervisor import Lab, LabEvent

    console = Console(highlight=False, soft_wrap=True)

    def show(e: LabEvent) -> None:
        style = _STYLE.get(e.kind, "")
        pid = f"pid {e.pid}" if e.pid else ""
        where = e.address or e.detail
        console.print(f"[{style}]{e.kind:<10}[/] {e.name:<18} {pid:<10} {where}".rstrip())

    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    stopping = False

    def on_signal() -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    lab = Lab.from_file(lab_file, run_dir=run_dir, origin_url=origin_url, on_event=show)
    try:
        async with lab:
            from edgelab.lab.status import probe

            _print_status(lab.state, await probe(lab.state))
            console.print(
                f"[bold green]lab {lab.state.name} is up[/]: state in {lab.state_file}; "
                "`edgelab lab status` shows it, Ctrl-C or `edgelab lab down` stops it"
            )
            await asyncio.Event().wait()
    except asyncio.CancelledError:
        console.print("[dim]stopped[/]")
        raise KeyboardInterrupt from None


def _detach(lab_file: Path | None, run_dir: Path, origin_url: str | None) -> None:
    from edgelab.lab.model import load_lab
    from edgelab.lab.procs import spawn
    from edgelab.lab.supervisor import STATE_FILE

    load_lab(lab_file)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_file = run_dir / STATE_FILE
    argv = [sys.executable, "-m", "edgelab", "lab", "up", "--dir", str(run_dir)]
    if lab_file is not None:
        argv += ["--lab", str(lab_file)]
    if origin_url is not None:
        argv += ["--origin-url", origin_url]
    log = run_dir / "logs" / "supervisor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    child = spawn(argv, log, die_with_parent=False)
    try:
        _wait_detached_up(child, state_file, log)
    except BaseException:  # Ctrl-C while waiting: the user gave up on this lab
        if child.poll() is None:
            child.terminate()
            child.wait()
        raise


def _wait_detached_up(child: subprocess.Popen[bytes], state_file: Path, log: Path) -> None:
    from edgelab.lab.procs import alive
    from edgelab.lab.state import read_state
    from edgelab.lab.supervisor import last_line

    while True:
        if child.poll() is not None:
            raise EdgelabError(f"the lab did not come up: {last_line(log)} (log: {log})")
        if state_file.exists():
            try:
                state = read_state(state_file)
            except EdgelabError:
                state = None
            mine = state is not None and state.supervisor_pid == child.pid
            if mine and state is not None and state.status == "up" and alive(child.pid, None):
                print(f"lab {state.name} is up (supervisor pid {child.pid}, log {log})")
                print("`edgelab lab status` shows it; `edgelab lab down` stops it")
                return
        time.sleep(0.1)


@lab_app.command()
def down(
    run_dir: DirOpt = DEFAULT_DIR,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds before SIGTERM becomes SIGKILL.")
    ] = 15.0,
) -> None:
    """Stop every process of the lab (from any shell), via the pids in its state file."""
    from edgelab.lab.supervisor import STATE_FILE, stop_from_state

    stopped = stop_from_state(run_dir / STATE_FILE, timeout_s)
    if stopped:
        print(f"stopped: {', '.join(stopped)}")
    else:
        print("nothing was running")


@lab_app.command()
def status(run_dir: DirOpt = DEFAULT_DIR) -> None:
    """A table of the lab's processes: pid, address, health, artifact versions applied."""
    from edgelab.lab.state import read_state
    from edgelab.lab.status import probe
    from edgelab.lab.supervisor import STATE_FILE

    state = read_state(run_dir / STATE_FILE)
    rows = asyncio.run(probe(state))
    _print_status(state, rows)


def _print_status(state: LabState, rows: list[ProcessRow]) -> None:
    """The lab line, the process table, the links table and what was skipped."""
    from rich.console import Console
    from rich.table import Table

    from edgelab.lab.procs import alive

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 140  # piped: room for the addresses rather than rich's 80 columns
    supervisor = "running" if alive(state.supervisor_pid, state.supervisor_ident) else "not running"
    console.print(
        f"lab [bold]{state.name}[/]: {state.status} (supervisor pid {state.supervisor_pid}, "
        f"{supervisor})"
    )
    table = Table("process", "pid", "state", "address", "health", "versions applied")
    for row in rows:
        state_text = row.status + (f" ({row.restarts} restarts)" if row.restarts else "")
        health_style = "green" if row.health == "ok" else "red"
        versions = ", ".join(f"{k} {v}" for k, v in row.versions.items())
        table.add_row(
            row.name,
            str(row.pid or "-"),
            state_text if row.running else f"[red]{state_text}[/]",
            row.address,
            f"[{health_style}]{row.health}[/]",
            versions or "-",
        )
    console.print(table)
    if state.links:
        links = Table("link", "listen", "upstream")
        for link in state.links.values():
            links.add_row(link.name, link.listen, link.upstream)
        console.print(links)
    for component, reason in state.skipped.items():
        console.print(f"[yellow]skipped[/] {component}: {reason}")


@lab_app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Process name, e.g. origin, edge-a-1.")],
    run_dir: DirOpt = DEFAULT_DIR,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", "-f", help="Keep following.")
    ] = True,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines of history first.")] = 20,
) -> None:
    """Show a process's log and follow it (Ctrl-C to stop)."""
    from edgelab.errors import ConfigError
    from edgelab.lab.state import read_state
    from edgelab.lab.supervisor import STATE_FILE

    state = read_state(run_dir / STATE_FILE)
    if name not in state.processes:
        known = ", ".join(state.processes)
        raise ConfigError(f"logs: no process {name!r} in this lab ({known})")
    path = Path(state.processes[name].log)
    with path.open("rb") as f:
        tail = f.read().decode(errors="replace").splitlines()[-lines:] if lines > 0 else []
        for line in tail:
            print(line)
        sys.stdout.flush()
        while follow:
            chunk = f.read()
            if chunk:
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.2)


@lab_app.command("show-default")
def show_default() -> None:
    """Print the default lab file (a starting point for your own)."""
    from edgelab.lab.model import default_lab_text

    sys.stdout.write(default_lab_text())
