"""The main job end to end, shortened: real lab processes, real Locust, real report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from edgelab.chaos.journal import read_journal
from edgelab.demo import DemoOptions, run_demo

pytestmark = pytest.mark.slow


async def test_short_demo_writes_run_and_report(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    options = DemoOptions(
        variants=("none", "hardened"), duration_s=10, out_root=tmp_path, console=console
    )
    result, report = await run_demo(options)
    assert result.status == "complete"
    assert report is not None and report.exists()
    run_dir = result.run_dir
    for variant in ("none", "hardened"):
        vdir = run_dir / "variants" / variant
        assert (vdir / "requests.csv").stat().st_size > 0
        assert (vdir / "metrics.jsonl").stat().st_size > 0
        assert json.loads((vdir / "lab.json").read_text())["origin"]["workers"] > 0
    events = read_journal(run_dir / "journal.jsonl")
    for variant in ("none", "hardened"):
        kinds = [e["type"] for e in events if e["variant"] == variant]
        assert kinds[0] == "variant-start" and kinds[-1] == "variant-end"
        assert {"lab-up", "load-start", "fault-start", "fault-end", "load-stop", "lab-down"} <= set(
            kinds
        )
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = {v["name"]: v for v in summary["variants"]}
    # the replay's point: the panicking POPs lose requests, the hardened ingestion does not
    assert rows["none"]["errors_total"] > 0
    assert rows["hardened"]["availability_in_window"] > rows["none"]["availability_in_window"]
    text = console.export_text()
    assert "report:" in text and "hardened" in text
