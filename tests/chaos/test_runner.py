from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from edgelab.chaos.journal import read_journal
from edgelab.chaos.runner import run_experiment
from tests.chaos.fixtures import BROKEN_ACTION, SHORT, InProcessLab, experiment, wait_load


def types(events: list[dict[str, object]], variant: str) -> list[object]:
    return [e["type"] for e in events if e["variant"] == variant]


async def test_runs_every_variant_on_a_fresh_lab(tmp_path: Path) -> None:
    lab = InProcessLab()
    result = await run_experiment(
        experiment(SHORT), source=None, out_root=tmp_path, lab_factory=lab, load_factory=wait_load
    )
    assert result.status == "complete"
    assert [v for v, _ in lab.started] == ["none", "hardened"] and lab.stopped == [
        "none",
        "hardened",
    ]
    assert lab.started[0][1] != lab.started[1][1]  # fresh servers per variant
    events = read_journal(result.run_dir / "journal.jsonl")
    assert types(events, "none") == [
        "variant-start",
        "lab-up",
        "probe",
        "steady-state",
        "load-start",
        "fault-start",
        "action",
        "probe",
        "action",
        "fault-end",
        "load-stop",
        "probe",
        "steady-state",
        "rollback",
        "rollback",
        "lab-down",
        "variant-end",
    ]
    during = next(e for e in events if e["name"] == "during fault" and e["variant"] == "none")
    assert during["status"] == "deviated" and during["detail"]["output"] == 0.0
    assert 0.25 <= during["t"] < 0.8
    steady = [e for e in events if e["type"] == "steady-state" and e["variant"] == "none"]
    assert [e["status"] for e in steady] == ["ok", "ok"]  # the fault was lifted before the end
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["status"] == "complete" and meta["variants"] == ["none", "hardened"]
    assert (result.run_dir / "experiment.yaml").exists()
    scraped = (result.run_dir / "variants" / "none" / "metrics.jsonl").read_text().splitlines()
    assert {json.loads(line)["process"] for line in scraped} >= {"origin", "edge-a-1", "edge-b-1"}


async def test_a_failed_action_is_journaled_and_rollbacks_still_undo(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []
    lab = InProcessLab()

    async def check_faults_then_load(exp, labview, vdir):  # type: ignore[no-untyped-def]
        seen.append({n: p.addresses.get("admin", "") for n, p in labview.processes.items()})
        return await wait_load(exp, labview, vdir)

    result = await run_experiment(
        experiment(BROKEN_ACTION),
        source=None,
        out_root=tmp_path,
        lab_factory=lab,
        load_factory=check_faults_then_load,
    )
    assert result.status == "complete"
    events = read_journal(result.run_dir / "journal.jsonl")
    ghost = next(e for e in events if e["name"] == "freeze a ghost")
    assert ghost["status"] == "failed" and "ghost" in ghost["detail"]["error"]
    undone = [e for e in events if e["type"] == "rollback"]
    assert {e["name"] for e in undone} == {
        "remove fault f1 on edge-a-1",
        "remove fault f1 on edge-b-1",
    }
    assert all(e["status"] == "ok" for e in undone)


async def test_cancel_mid_run_rolls_back_and_stops_the_lab(tmp_path: Path) -> None:
    lab = InProcessLab()
    fault_on = asyncio.Event()
    long = {**SHORT, "load": {"duration_s": 30}, "variants": [{"name": "none"}]}

    def on_event(e: dict[str, object]) -> None:
        if e["type"] == "action" and e["status"] == "ok":
            fault_on.set()

    task = asyncio.create_task(
        run_experiment(
            experiment(long),
            source=None,
            out_root=tmp_path,
            lab_factory=lab,
            load_factory=wait_load,
            on_event=on_event,
        )
    )
    await asyncio.wait_for(fault_on.wait(), 20)
    admins = [a for name, a in lab.started[0][1].items() if name.startswith("edge-")]
    async with aiohttp.ClientSession() as http:
        for addrs in admins:
            async with http.get(f"{addrs['admin']}/faults") as r:
                assert len((await r.json())["faults"]) == 1
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    run_dir = next(tmp_path.iterdir())
    events = read_journal(run_dir / "journal.jsonl")
    kinds = [e["type"] for e in events]
    assert "interrupted" in kinds and kinds[-1] == "run-end"
    assert [e["status"] for e in events if e["type"] == "rollback"] == ["ok", "ok"]
    assert lab.stopped == ["none"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "partial"
    async with aiohttp.ClientSession() as http:
        for addrs in admins:
            try:
                async with http.get(f"{addrs['admin']}/healthz") as r:
                    raise AssertionError(f"lab still answering: {r.status}")
            except aiohttp.ClientConnectionError:
                pass
