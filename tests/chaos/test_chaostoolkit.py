"""The Chaos Toolkit example runs with `chaos run` against a real embedded lab."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from edgelab.chaostoolkit.catalogue import PROVIDERS
from edgelab.lab.model import load_lab, overlay
from edgelab.lab.supervisor import Lab

EXAMPLE = Path(__file__).resolve().parents[2] / "chaos" / "chaostoolkit" / "edge-500s.json"

pytestmark = pytest.mark.slow


def test_every_catalogue_entry_is_a_provider() -> None:
    from edgelab.chaos.catalogue import CATALOGUE

    assert set(PROVIDERS) == {k.replace(".", "_") for k in CATALOGUE}


async def test_example_experiment_runs_with_chaos_run(tmp_path: Path) -> None:
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent))
    if chaos is None:
        pytest.skip("the Chaos Toolkit CLI (`chaos`, dev extra) is not installed")
    # a small lab: one POP per CDN, their origin links through toxiproxy, no steering
    lab_file = overlay(
        load_lab(None),
        {
            "cdns": [{"name": "a", "pops": 1}, {"name": "b", "pops": 1}],
            "steering": {"enabled": False},
        },
    )
    async with Lab(lab_file, tmp_path / "lab") as lab:
        env = {
            **os.environ,
            "EDGELAB_LAB_STATE": str(lab.state_file),
            "EDGELAB_TOXIPROXY_URL": lab.state.endpoints.toxiproxy or "",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(EXAMPLE.parents[2]), os.environ.get("PYTHONPATH")])
            ),
        }
        journal = tmp_path / "journal.json"
        proc = await asyncio.create_subprocess_exec(
            chaos,
            "--no-version-check",
            "run",
            "--journal-path",
            str(journal),
            str(EXAMPLE),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert journal.exists(), out.decode()[-3000:]
    result = json.loads(journal.read_text())
    assert result["status"] == "completed", out.decode()[-3000:]
    runs = {r["activity"]["name"]: r for r in result["run"]}
    assert runs["abort-cdn-a-pages"]["status"] == "succeeded"
    assert runs["slow-cdn-b-origin-link"]["output"] is True
    assert runs["cdn-a-pages-during-fault"]["output"] == 0.0
    assert runs["cdn-b-latency-during-fault"]["output"] >= 200
    assert [r["status"] for r in result["rollbacks"]] == ["succeeded", "succeeded"]
