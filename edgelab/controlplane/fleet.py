"""Which POP runs which version: subscriptions, reports, propagation lag. No I/O.

    fleet = Fleet()
    fleet.polled("ams", "127.0.0.1", since={"bot-features": 3}, now=time.time())
    fleet.report("ams", "bot-features", 4, "applied", "", created_at=v.created_at, now=time.time())
    fleet.propagation(v)      # {"targets": [...], "complete": True, "lag_all_s": 0.012, ...}

A POP is known from its first long-poll, and live while it polls (`live`). Its report for a version says what it did with it
(`applied`, `rejected`, `module_failed`); a rejected version leaves the POP running the version
it had, so `running` and `last_report` are kept apart. Lag is report time minus push time, both
on the control plane's clock: what an operator would see, including the report's own trip.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol


class Pushed(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> float: ...

    def reaches(self, pop: str) -> bool: ...


@dataclass
class Report:
    version: int
    outcome: str
    reported_at: float
    lag_s: float | None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "outcome": self.outcome,
            "reported_at": self.reported_at,
            "lag_s": self.lag_s,
            "detail": self.detail,
        }


@dataclass
class PopState:
    name: str
    first_seen: float
    last_seen: float
    address: str = ""
    polling: int = 0
    """Long-polls in flight right now (1 for a healthy subscriber)."""
    seen: dict[str, int] = field(default_factory=dict)
    """Kind -> newest version the POP says it has processed (its `since`)."""
    running: dict[str, Report] = field(default_factory=dict)
    """Kind -> the version it runs (last applied or module_failed report)."""
    last_report: dict[str, Report] = field(default_factory=dict)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "pop": self.name,
            "address": self.address,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "seconds_since_seen": 0.0 if self.polling else round(now - self.last_seen, 3),
            "connected": self.polling > 0,
            "seen": dict(self.seen),
            "running": {k: r.to_json() for k, r in self.running.items()},
            "last_report": {k: r.to_json() for k, r in self.last_report.items()},
        }


class Fleet:
    LIVE_GRACE_S = 10.0
    """A POP not polling for longer than this is offline: pushes neither target nor wait for
    it (a crashed POP in a chaos run must not hold every push up); it catches up on return."""
    KEEP_VERSIONS = 2000
    """Per-version report tables kept for `propagation` (oldest dropped first)."""

    def __init__(self) -> None:
        self.pops: dict[str, PopState] = {}
        self._reports: OrderedDict[tuple[str, int], dict[str, Report]] = OrderedDict()

    def names(self) -> list[str]:
        return sorted(self.pops)

    def live(self, now: float | None = None) -> list[str]:
        """POPs polling now or seen within `LIVE_GRACE_S`: the ones a push waits for."""
        now = time.time() if now is None else now
        return sorted(
            name
            for name, st in self.pops.items()
            if st.polling or now - st.last_seen <= self.LIVE_GRACE_S
        )

    def polled(self, pop: str, address: str, since: dict[str, int], now: float) -> PopState:
        st = self.pops.get(pop)
        if st is None:
            st = self.pops[pop] = PopState(pop, now, now, address)
        st.last_seen, st.address = now, address
        st.seen.update(since)
        return st

    def report(
        self,
        pop: str,
        kind: str,
        version: int,
        outcome: str,
        detail: str,
        created_at: float | None,
        now: float,
    ) -> Report:
        st = self.pops.get(pop)
        if st is None:
            st = self.pops[pop] = PopState(pop, now, now)
        st.last_seen = now
        lag = round(now - created_at, 6) if created_at is not None else None
        rep = Report(version, outcome, now, lag, detail)
        st.last_report[kind] = rep
        if outcome != "rejected":
            st.running[kind] = rep
        st.seen[kind] = max(st.seen.get(kind, 0), version)
        table = self._reports.setdefault((kind, version), {})
        table[pop] = rep
        self._reports.move_to_end((kind, version))
        while len(self._reports) > self.KEEP_VERSIONS:
            self._reports.popitem(last=False)
        return rep

    def reports_for(self, kind: str, version: int) -> dict[str, Report]:
        return dict(self._reports.get((kind, version), {}))

    def propagation(self, v: Pushed, now: float | None = None) -> dict[str, Any]:
        """Who this version targets among live POPs, who reported it, and the lag to all."""
        live = self.live(now)
        targets = [p for p in live if v.reaches(p)]
        offline = [p for p in self.names() if p not in live and v.reaches(p)]
        reports = self._reports.get((v.kind, v.version), {})
        pending = [
            p for p in targets if p not in reports and self.pops[p].seen.get(v.kind, 0) < v.version
        ]
        lags = [r.lag_s for p, r in reports.items() if r.lag_s is not None and p in targets]
        outcomes: dict[str, int] = {}
        for r in reports.values():
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        complete = bool(targets) and not pending
        return {
            "kind": v.kind,
            "version": v.version,
            "targets": targets,
            "pending": pending,
            "offline": offline,
            "complete": complete,
            "outcomes": outcomes,
            "reports": {p: r.to_json() for p, r in sorted(reports.items())},
            "lag_all_s": max(lags) if complete and lags else None,
        }

    def behind(self, kind: str, desired: dict[str, int | None]) -> int:
        """POPs whose processed version of `kind` differs from the one they should run."""
        return sum(
            1
            for name, st in self.pops.items()
            if desired.get(name) is not None and st.seen.get(kind) != desired[name]
        )
