"""Lab files for tests, and a /proc scan that finds every process a lab started."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

SMALL_LAB = """\
name: small
origins:
  - name: origin
    profile: {capacity: {service_time: {distribution: fixed, mean_ms: 0}}, seed: 1}
cdns:
  - {name: a, pops: 1}
toxiproxy: {enabled: false}
control: {enabled: false}
steering: {enabled: false}
start_timeout_s: 60
stop_timeout_s: 10
"""


@pytest.fixture
def small_lab(tmp_path: Path) -> Path:
    """One origin and one POP, nothing else: the cheapest lab that is still a lab."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_LAB)
    return path


def lab_pids(run_dir: Path) -> set[int]:
    """Pids of live (non-zombie) processes whose command line names `run_dir`.

    Every process a lab starts gets `--port-file <run_dir>/ports/...`, and a CLI supervisor
    gets `--dir <run_dir>`, so this finds them all, also ones the state file never recorded.
    """
    needle = str(run_dir.resolve()).encode()
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state not in ("Z", "X"):
            found.add(int(proc.name))
    return found


def with_changes(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Edit a lab file in place through its parsed data."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    return path


def requires(command: str) -> pytest.MarkDecorator:
    """Skip, naming the command, while `edgelab <command>` is not in this build."""
    from edgelab.lab.supervisor import available_commands

    return pytest.mark.skipif(
        command not in available_commands(),
        reason=f"edgelab {command} is not in this build yet",
    )
