"""run_surge's own behaviour: progress from the stats history, stopping early, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.errors import ConfigError
from edgelab.loadgen.shapes import Steady
from edgelab.loadgen.surge import HistoryTail, run_surge
from edgelab.loadgen.targets import parse_targets

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
