"""The docker-compose lab (`compose/`), driven through the Docker SDK: a thin path.

    compose_up(Path("compose/docker-compose.yml"))          # = docker compose up -d --wait
    [c.name for c in lab_containers()]                      # the lab's containers, for chaos actions

The Docker SDK (`pip install docker`, in the `compose` and `dev` extras) talks to the engine;
it has no compose API, so `up` checks the engine through the SDK first (one clear line when none
is reachable) and then runs the `docker compose` CLI plugin. Chaos actions on containers (kill,
stop, pause, restart) go through `lab_containers()`, found by compose's project label.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from edgelab.errors import EdgelabError

API_VERSION = "1.41"
"""Docker Engine API version spoken (Docker 20.10 and later)."""

PROJECT = "edgelab"
"""The compose project name (`name:` in compose/docker-compose.yml)."""


def docker_client() -> Any:
    """A connected Docker SDK client; raises EdgelabError with one line when there is none."""
    try:
        import docker
    except ImportError as e:
        raise EdgelabError(
            "--compose needs the Docker SDK: pip install 'edgelab[compose]' "
            "(the embedded lab, `edgelab lab up`, needs no Docker)"
        ) from e
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        # checked here: the SDK leaks its socket when a unix socket is missing
        raise EdgelabError(
            f"--compose: no Docker engine reachable (no socket at {host.removeprefix('unix://')}); "
            "start one, or use the embedded lab: edgelab lab up"
        )
    client = None
    try:
        # a fixed API version: "auto" negotiates inside the constructor, and when that fails
        # the half-built client leaks its socket
        client = docker.from_env(version=API_VERSION)
        client.ping()
    except docker.errors.DockerException as e:
        if client is not None:
            client.close()  # its pooled socket, even though it never connected
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EdgelabError(
            f"--compose: no Docker engine reachable ({reason}); start one, or use the "
            "embedded lab: edgelab lab up"
        ) from e
    return client


def compose_up(compose_file: Path, project: str = PROJECT) -> None:
    """Bring up the compose lab and wait for its health checks; raises EdgelabError."""
    if not compose_file.exists():
        raise EdgelabError(f"{compose_file}: no such file (run from the repository's root)")
    docker_client().close()
    cli = shutil.which("docker")
    if cli is None:
        raise EdgelabError("--compose: the docker CLI (with its compose plugin) is not on PATH")
    argv = [cli, "compose", "-f", str(compose_file), "-p", project, "up", "-d", "--wait"]
    done = subprocess.run(argv, check=False)
    if done.returncode != 0:
        raise EdgelabError(f"--compose: `{' '.join(argv[1:])}` failed (exit {done.returncode})")


def lab_containers(project: str = PROJECT) -> list[Any]:
    """The compose lab's containers (Docker SDK objects: .kill(), .stop(), .pause(), .restart())."""
    client = docker_client()
    found: list[Any] = client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    return found
