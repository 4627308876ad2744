"""journal.jsonl: every event of a run, one JSON object per line, flushed as it happens.

    journal = Journal(run_dir / "journal.jsonl", clock=time.time)
    journal.event("action", name="push bad file", status="ok", variant="none", t=10.0, detail={...})

A run that dies leaves every line written so far; the report reads a partial journal as a
partial run. Observers (progress display, tests) subscribe with `journal.observers.append(fn)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]


class Journal:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._file = path.open("a", encoding="utf-8")
        self.observers: list[Callable[[Event], None]] = []
        self.events: list[Event] = []

    def event(
        self,
        type: str,
        *,
        name: str = "",
        status: str = "ok",
        variant: str | None = None,
        t: float | None = None,
        detail: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> Event:
        """Record one event; `ts` (epoch seconds) when it happened earlier than now."""
        entry: Event = {
            "ts": round(self.clock() if ts is None else ts, 6),
            "t": None if t is None else round(t, 3),
            "variant": variant,
            "type": type,
            "name": name,
            "status": status,
            "detail": detail or {},
        }
        self._file.write(json.dumps(entry, default=str) + "\n")
        self._file.flush()
        self.events.append(entry)
        for observe in self.observers:
            observe(entry)
        return entry

    def close(self) -> None:
        self._file.close()


def read_journal(path: Path) -> list[Event]:
    """Every complete line of a journal (a torn last line from a crash is skipped)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
