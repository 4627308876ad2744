"""requests.csv: the contract's columns, batching, appending, reading back."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.loadgen.records import COLUMNS, RequestRecord, RequestsCsv, read_requests


def record(n: int, **kw: object) -> RequestRecord:
    data: dict[str, object] = {
        "ts": 1700000000.0 + n / 1000,
        "user": "browser",
        "route": "page",
        "path": "edge-a",
        "status": 200,
        "latency_ms": 1.25 * n,
        "attack": 0,
        "attempt": 1,
        "final": 1,
        **kw,
    }
    return RequestRecord(**data)  # type: ignore[arg-type]


def test_header_is_the_contract(tmp_path: Path) -> None:
    with RequestsCsv(tmp_path / "requests.csv"):
        pass
    assert (tmp_path / "requests.csv").read_text().strip() == ",".join(COLUMNS)
    assert COLUMNS == (
        "ts", "user", "route", "path", "status", "latency_ms", "attack", "attempt", "final",
    )  # fmt: skip


def test_rows_are_buffered_then_written(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    out = RequestsCsv(path, batch_rows=3)
    out.add(record(1))
    out.add(record(2))
    assert read_requests(path) == []  # still buffered
    out.add(record(3, path="origin-direct", status=0, attempt=2))
    assert len(read_requests(path)) == 3  # a full batch is written
    out.add_rows([record(4, attack=1, user="attacker").row()])
    out.close()
    rows = read_requests(path)
    assert rows == [record(1), record(2), record(3, path="origin-direct", status=0, attempt=2),
                    record(4, attack=1, user="attacker")]  # fmt: skip
    assert out.written == 4


def test_reopening_appends_without_a_second_header(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    with RequestsCsv(path) as out:
        out.add(record(1))
    with RequestsCsv(path) as out:
        out.add(record(2))
    assert [r.latency_ms for r in read_requests(path)] == [1.25, 2.5]


def test_wrong_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="header"):
        read_requests(path)
