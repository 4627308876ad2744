"""run_surge's own behaviour: progress from the stats history, stopping early, bad input."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import psutil
import pytest

from edgelab.errors import ConfigError
from edgelab.loadgen.records import read_requests
from edgelab.loadgen.shapes import Steady
from edgelab.loadgen.surge import HistoryTail, Progress, run_surge
from edgelab.loadgen.targets import parse_targets
from edgelab.origin.server import OriginServer
from tests.conftest import EdgeFactory

HEADER = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,Total Request Count,Total Failure Count\n"


def test_history_tail_reads_the_newest_aggregated_row(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats_history.csv"
    tail = HistoryTail(path)
    assert tail.latest() is None  # not written yet
    path.write_text(HEADER)
    assert tail.latest() is None
    with path.open("a") as f:
        f.write("1,5,GET,page,10.0,0.0,3,10,0\n1,5,,Aggregated,12.5,1.5,3,12,2\n2,9,,Aggr")
    assert tail.latest() == (5, 12.5, 1.5, 12, 2)
    with path.open("a") as f:  # the half-written line completes
        f.write("egated,20.0,0.0,3,40,2\n")
    assert tail.latest() == (9, 20.0, 0.0, 40, 2)
    assert tail.latest() == (9, 20.0, 0.0, 40, 2)


def test_missing_locustfile(tmp_path: Path) -> None:
    targets = parse_targets({"cdn-a": ["http://127.0.0.1:1"]}, "t")
    with pytest.raises(ConfigError, match="nope.py: no such file"):
        run_surge(targets, Steady(), 1, tmp_path, locustfile=tmp_path / "nope.py")


async def test_stop_early_ends_every_process_and_keeps_the_reports(
    tmp_path: Path, make_edge: EdgeFactory, origin: OriginServer
) -> None:
    pop = await make_edge(origin.addresses["http"])
    targets = parse_targets(
        {"cdn-a": [pop.addresses["proxy"]], "think_time_scale": 0.2, "mix": {"api": 1}}, "t"
    )
    busy = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.requests > 0:
            busy.set()

    handle = run_surge(
        targets,
        Steady.model_validate({"users": 3, "duration_s": 120}),
        None,
        tmp_path / "run",
        workers=1,
        on_progress=on_progress,
    )
    pids = [p.pid for p in handle.processes]
    try:
        assert await asyncio.to_thread(busy.wait, 90), "no requests within 90 s"
        await asyncio.to_thread(handle.stop)
        result = await asyncio.to_thread(handle.wait)
    finally:
        handle.stop()
    assert result.stopped_early and result.exit_code == 0 and result.workers == 1
    assert result.duration_s < 100
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (result.out_dir / "locust.html").is_file()
    rows = read_requests(result.requests_csv)
    assert rows and {r.user for r in rows} == {"api"}
    assert handle.last is not None and handle.last.requests > 0
