"""Build small run directories by hand, in the layout of docs/contracts.md, for known answers.

Usage: `run = RunBuilder(tmp_path / "run")`, `v = run.variant("none", workers=4,
mean_service_ms=100)` (the keywords become lab.json's `origin`), then `v.request(T0 + 1.2,
status=500)`, `v.counter("origin", key, [10.0] * 30)`, `run.timeline("none", fault=(10, 20),
load_s=30)` and finally `run.write()`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from shutil import rmtree
from typing import Any

T0 = 1_763_464_800.0
"""2025-11-18T11:20:00Z: every hand-made run starts its load here."""

COLUMNS = ["ts", "user", "route", "path", "status", "latency_ms", "attack", "attempt", "final"]


@dataclass
class VariantBuilder:
    name: str
    lab: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    scrapes: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self,
        ts: float,
        *,
        status: int = 200,
        latency_ms: float = 10.0,
        path: str = "edge-a",
        user: str = "browser",
        route: str = "page",
        attack: bool = False,
        attempt: int = 1,
        final: bool = True,
    ) -> None:
        self.rows.append(
            {
                "ts": f"{ts:.3f}",
                "user": user,
                "route": route,
                "path": path,
                "status": status,
                "latency_ms": latency_ms,
                "attack": int(attack),
                "attempt": attempt,
                "final": int(final),
            }
        )

    def scrape(self, ts: float, process: str, samples: dict[str, float]) -> None:
        self.scrapes.append({"ts": ts, "process": process, "samples": samples})

    def counter(
        self, process: str, key: str, rate_per_s: list[float], *, start: float = T0
    ) -> None:
        """Scrape a counter at start+0, +1, ... whose increase in second k is rate_per_s[k]."""
        total = 0.0
        self.scrape(start, process, {key: total})
        for k, rate in enumerate(rate_per_s):
            total += rate
            self.scrape(start + k + 1, process, {key: total})


@dataclass
class RunBuilder:
    path: Path
    title: str = "Bot feature file over its limit"
    slug: str = "cloudflare-2025-11-18"
    status: str = "complete"
    compression: float = 60.0
    events: list[dict[str, Any]] = field(default_factory=list)
    variants: dict[str, VariantBuilder] = field(default_factory=dict)
    write_run_json: bool = True

    def variant(self, name: str, **origin: Any) -> VariantBuilder:
        v = VariantBuilder(name, {"origin": origin, "processes": []})
        self.variants[name] = v
        return v

    def event(
        self,
        type: str,
        ts: float,
        *,
        variant: str | None = None,
        name: str = "",
        status: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(
            {
                "ts": ts,
                "t": None if variant is None else ts - T0,
                "variant": variant,
                "type": type,
                "name": name or type,
                "status": status,
                "detail": detail or {},
            }
        )

    def timeline(self, variant: str, *, fault: tuple[float, float] | None, load_s: float) -> None:
        """The usual events of one variant: load start at T0, a fault, load stop, variant end."""
        self.event("variant-start", T0 - 1, variant=variant)
        self.event("load-start", T0, variant=variant)
        if fault is not None:
            self.event("fault-start", T0 + fault[0], variant=variant, name="bad-feature-file")
            self.event("fault-end", T0 + fault[1], variant=variant, name="bad-feature-file")
        self.event("load-stop", T0 + load_s, variant=variant)
        self.event("variant-end", T0 + load_s + 1, variant=variant)

    def write(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        if self.write_run_json:
            run = {
                "schema": 1,
                "experiment": {
                    "title": self.title,
                    "slug": self.slug,
                    "description": "The bot feature file doubles and the proxy panics.",
                    "models": "Cloudflare outage of 2025-11-18",
                    "sources": ["https://blog.cloudflare.com/18-november-2025-outage/"],
                },
                "started_at": T0 - 5,
                "ended_at": None if self.status != "complete" else T0 + 100,
                "status": self.status,
                "variants": list(self.variants),
                "compression": self.compression,
                "machine": {"cpus": 2, "python": "3.11.2", "platform": "Linux"},
            }
            (self.path / "run.json").write_text(json.dumps(run))
        with (self.path / "journal.jsonl").open("w") as f:
            for e in sorted(self.events, key=lambda e: e["ts"]):
                f.write(json.dumps(e) + "\n")
        for v in self.variants.values():
            vdir = self.path / "variants" / v.name
            vdir.mkdir(parents=True, exist_ok=True)
            (vdir / "lab.json").write_text(json.dumps(v.lab))
            with (vdir / "requests.csv").open("w", newline="") as f:
                w = csv.DictWriter(f, COLUMNS)
                w.writeheader()
                w.writerows(v.rows)
            merged: dict[tuple[float, str], dict[str, float]] = {}
            for s in v.scrapes:  # one line per process and second, as a scraper writes
                merged.setdefault((s["ts"], s["process"]), {}).update(s["samples"])
            with (vdir / "metrics.jsonl").open("w") as f:
                for (ts, process), samples in sorted(merged.items()):
                    line = {"ts": ts, "process": process, "samples": samples}
                    f.write(json.dumps(line) + "\n")
        return self.path


def steady_traffic(
    v: VariantBuilder,
    *,
    seconds: int,
    per_s: int = 10,
    failing: dict[int, int] | None = None,
    path_at: dict[int, str] | None = None,
    latency: tuple[float, float] = (10.0, 1.0),
    slow: tuple[int, int] | None = None,
) -> None:
    """`per_s` users' requests each second; `failing[s]` of them answered 500 in second s.

    Latency of request i in a second is `latency[0] + i * latency[1]`, or 100 + 10 i inside the
    `slow` seconds [a, b).
    """
    failing = failing or {}
    path_at = path_at or {}
    path = "edge-a"
    for s in range(seconds):
        path = path_at.get(s, path)
        for i in range(per_s):
            in_slow = slow is not None and slow[0] <= s < slow[1]
            ms = 100 + 10 * i if in_slow else latency[0] + i * latency[1]
            status = 500 if i < failing.get(s, 0) else 200
            v.request(T0 + s + 0.05 + i * 0.09, status=status, latency_ms=ms, path=path)


def aborted_run(path: Path) -> Path:
    """A run cut off in its second variant, the way Ctrl-C leaves it."""
    run = RunBuilder(path, status="partial")
    first = run.variant("none", workers=4, mean_service_ms=100)
    run.timeline("none", fault=(10, 20), load_s=30)
    steady_traffic(first, seconds=30, failing={s: 10 for s in range(10, 20)})
    second = run.variant("dns-failover", workers=4, mean_service_ms=100)
    run.event("variant-start", T0 + 40, variant="dns-failover")
    run.event("load-start", T0 + 41, variant="dns-failover")
    run.event("fault-start", T0 + 51, variant="dns-failover")
    for s in range(41, 55):
        second.request(T0 + s + 0.5, status=200 if s < 51 else 500)
    run.variant("serve-stale")  # listed in run.json, never started
    run.write()
    rmtree(path / "variants" / "serve-stale")
    (path / "variants" / "dns-failover" / "metrics.jsonl").unlink()
    with (path / "journal.jsonl").open("a") as f:
        f.write('{"ts": 1763464900.0, "type": "interr')  # the line being written when it died
    with (path / "variants" / "dns-failover" / "requests.csv").open("a") as f:
        f.write("1763464899.5,browser,page,edge-a,2")  # a cut-off row
    return path
