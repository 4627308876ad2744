"""`requests.csv`: one row per request attempt, the ground truth for availability.

    with RequestsCsv(run_dir / "requests.csv") as out:
        out.add(RequestRecord(ts=time.time(), user="browser", route="page", path="edge-a",
                              status=200, latency_ms=12.5, attack=0, attempt=1, final=1))
    rows = read_requests(run_dir / "requests.csv")

Columns as docs/contracts.md fixes them. Rows are buffered and written in batches; `flush()`
after each batch keeps a partial file usable if the run is cut short.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

COLUMNS = ("ts", "user", "route", "path", "status", "latency_ms", "attack", "attempt", "final")
"""The header row of requests.csv, in order."""

Row = tuple[float, str, str, str, int, float, int, int, int]
"""A record as a plain tuple: what workers send to the master in batches."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request attempt as the user saw it."""

    ts: float
    """Epoch seconds when the attempt started."""
    user: str
    """browser | api | attacker | bot"""
    route: str
    """static | page | api | search | login | other"""
    path: str
    """edge-a | edge-b | origin-direct"""
    status: int
    """HTTP status; 0 = connection error or timeout."""
    latency_ms: float
    attack: int
    """1 when the attempt carried an attack payload (and the marker header)."""
    attempt: int
    """1 = first try, 2.. = retries or the direct fallback."""
    final: int
    """1 when this attempt's outcome is what the user saw."""

    def row(self) -> Row:
        return (
            self.ts,
            self.user,
            self.route,
            self.path,
            self.status,
            self.latency_ms,
            self.attack,
            self.attempt,
            self.final,
        )

    @classmethod
    def from_csv(cls, row: Sequence[str]) -> RequestRecord:
        ts, user, route, path, status, latency, attack, attempt, final = row
        return cls(
            float(ts),
            user,
            route,
            path,
            int(status),
            float(latency),
            int(attack),
            int(attempt),
            int(final),
        )


def _format(row: Row) -> list[str]:
    ts, user, route, path, status, latency, attack, attempt, final = row
    return [
        f"{ts:.6f}",
        user,
        route,
        path,
        str(status),
        f"{latency:.3f}",
        str(attack),
        str(attempt),
        str(final),
    ]


class RequestsCsv:
    """Appends rows to requests.csv in batches; writes the header when the file is new."""

    def __init__(self, path: Path, batch_rows: int = 2000) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self._pending: list[Row] = []
        self.written = 0
        """Rows written so far (flushed to the file)."""
        new = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(COLUMNS)
            self._file.flush()

    def add(self, record: RequestRecord) -> None:
        self.add_rows([record.row()])

    def add_rows(self, rows: Iterable[Row]) -> None:
        """Buffer rows; writes a batch once `batch_rows` are pending."""
        self._pending.extend(rows)
        if len(self._pending) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write every pending row and flush the file."""
        if self._file is None or not self._pending:
            return
        self._csv.writerows(_format(r) for r in self._pending)
        self.written += len(self._pending)
        self._pending.clear()
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None

    def __enter__(self) -> RequestsCsv:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_requests(path: Path) -> list[RequestRecord]:
    """Every row of a requests.csv; a header that is not COLUMNS raises ValueError."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}: header {header} is not {list(COLUMNS)}")
        return [RequestRecord.from_csv(row) for row in reader if row]


LOAD_START_FILE = "load_start.json"
"""Written into the run directory when Locust starts its first users: `{"ts": epoch}`.

The load's t=0 (Locust takes a few seconds to start), so a timeline in lab seconds can be laid
against it (`SurgeHandle.wait_started`)."""


def write_load_start(run_dir: Path, ts: float) -> None:
    """Record the load's start (atomically: readers never see half a file)."""
    tmp = run_dir / (LOAD_START_FILE + ".tmp")
    tmp.write_text(json.dumps({"ts": ts}))
    tmp.replace(run_dir / LOAD_START_FILE)


def read_load_start(run_dir: Path) -> float | None:
    """When the load started (epoch seconds), or None before it has."""
    try:
        return float(json.loads((run_dir / LOAD_START_FILE).read_text())["ts"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
