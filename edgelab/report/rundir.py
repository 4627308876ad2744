"""Read a run directory tolerantly: whatever is there becomes data, whatever is not is noted.

    run = read_run_dir(Path("runs/20251118T112000Z-cloudflare-2025-11-18"))
    run.partial            # True when the run aborted or a file is missing or damaged
    run.problems           # ("variants/fail-open/metrics.jsonl: missing", ...)
    run.variants[0].requests[0].status

The layout is pinned in docs/contracts.md ("Run directory"). A run that was interrupted leaves
truncated lines, missing files and `ended_at: null`; all of that is read as far as it goes and
the run is marked partial. Only a RUN_DIR that is not a run directory at all raises, with one
line naming it.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelab.errors import ConfigError

logger = logging.getLogger(__name__)

RUN_SCHEMA = 1
"""The `run.json` schema this reader understands; a newer one is read as far as it goes."""


@dataclass(frozen=True)
class RequestRow:
    """One request attempt from `requests.csv`."""

    ts: float
    """When the attempt started (epoch seconds)."""
    user: str
    """browser | api | attacker | bot."""
    route: str
    """static | page | api | search | login | other."""
    path: str
    """edge-a | edge-b | origin-direct: the way the attempt went."""
    status: int
    """HTTP status; 0 = connection error or timeout."""
    latency_ms: float
    attack: bool
    attempt: int
    """1 = first try, 2.. = retries."""
    final: bool
    """This attempt's outcome is what the user saw."""


@dataclass(frozen=True)
class Sample:
    """One Prometheus sample: `name{labels}` = value."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    """One scrape of one process's /metrics (a line of `metrics.jsonl`)."""

    ts: float
    process: str
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class JournalEvent:
    """One line of `journal.jsonl`."""

    ts: float
    t: float | None
    """Lab seconds since the variant's load start (None before it)."""
    variant: str | None
    type: str
    name: str
    status: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class RunInfo:
    """`run.json`, with defaults for whatever a partial run did not write."""

    title: str
    slug: str
    description: str = ""
    models: str = ""
    """What real incident or situation the experiment models."""
    sources: tuple[str, ...] = ()
    started_at: float | None = None
    ended_at: float | None = None
    status: str = "partial"
    variants: tuple[str, ...] = ()
    compression: float = 1.0
    """Real seconds per lab second (60 = one lab second stands for a real minute)."""
    machine: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantRun:
    """Everything one variant left in `variants/<name>/`."""

    name: str
    lab: Mapping[str, Any]
    requests: tuple[RequestRow, ...]
    scrapes: tuple[Scrape, ...]
    locust_files: tuple[str, ...]
    """Locust's own files present (locust_stats.csv, ...), linked from the report."""


@dataclass(frozen=True)
class RunDir:
    path: Path
    info: RunInfo
    journal: tuple[JournalEvent, ...]
    variants: tuple[VariantRun, ...]
    problems: tuple[str, ...]
    """One line per missing or damaged file, for the report's header."""
    warnings: tuple[str, ...] = ()
    """Things that make the numbers less trustworthy without making the run partial (the load
    generator itself short of CPU)."""

    @property
    def partial(self) -> bool:
        return self.info.status != "complete" or bool(self.problems)


_SAMPLE_KEY = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*,?')


def parse_sample_key(key: str) -> tuple[str, dict[str, str]] | None:
    """`'x_total{a="1",b=2}'` -> `("x_total", {"a": "1", "b": "2"})`; None if not a sample key.

    Label values may be quoted (Prometheus text format) or bare (docs/contracts.md's shorthand).
    """
    parsed = _parse_key_cached(key)
    return None if parsed is None else (parsed[0], dict(parsed[1]))


@functools.lru_cache(maxsize=65536)
def _parse_key_cached(key: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The same keys come back every second from every process: parse each once."""
    m = _SAMPLE_KEY.match(key)
    if m is None:
        return None
    labels: dict[str, str] = {}
    body = m.group(2) or ""
    pos = 0
    while pos < len(body.rstrip()):
        lm = _LABEL.match(body, pos)
        if lm is None or lm.end() == pos:
            return None
        quoted, bare = lm.group(2), lm.group(3)
        value = quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted is not None else bare
        labels[lm.group(1)] = value.strip()
        pos = lm.end()
    return m.group(1), tuple(labels.items())


@functools.lru_cache(maxsize=65536)
def _sample_key(key: str) -> tuple[str, Mapping[str, str]] | None:
    """Parsed once per distinct key; the label mapping is shared by every sample (read-only)."""
    return parse_sample_key(key)


def read_run_dir(path: Path) -> RunDir:
    """Read `path` as far as it goes; raises ConfigError if it is not a run directory at all."""
    if not path.exists():
        raise ConfigError(f"{path}: no such run directory")
    if not path.is_dir():
        raise ConfigError(f"{path}: not a directory (give the run directory, runs/<stamp>-<slug>)")
    markers = [path / "run.json", path / "journal.jsonl", path / "variants"]
    if not any(m.exists() for m in markers):
        raise ConfigError(
            f"{path}: not a run directory (no run.json, journal.jsonl or variants/ in it)"
        )
    problems: list[str] = []
    raw_info = _read_json_object(path / "run.json", problems)
    journal = tuple(_read_journal(path / "journal.jsonl", problems))
    info = _run_info(path, raw_info, journal, problems)
    names = list(info.variants)
    vdir = path / "variants"
    if vdir.is_dir():
        names += sorted(p.name for p in vdir.iterdir() if p.is_dir() and p.name not in names)
    names += sorted({e.variant for e in journal if e.variant and e.variant not in names})
    variants = tuple(_read_variant(vdir / name, name, problems) for name in names)
    if info.status != "complete":
        problems.insert(0, f"run.json: status is {info.status!r}, not 'complete'")
    return RunDir(
        path, info, journal, variants, tuple(problems), tuple(_load_warnings(path, names))
    )


def _rel(path: Path) -> str:
    parts = path.parts
    if "variants" in parts:
        return "/".join(parts[parts.index("variants") :])
    return path.name


def _read_json_object(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{_rel(path)}: missing")
        return {}
    except (OSError, ValueError) as e:
        problems.append(f"{_rel(path)}: unreadable ({e.__class__.__name__}); ignored")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{_rel(path)}: not a JSON object; ignored")
        return {}
    return data


def _json_lines(path: Path, problems: list[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects in a .jsonl file; damaged lines (a cut-off last line) are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        problems.append(f"{_rel(path)}: missing")
        return
    except OSError as e:
        problems.append(f"{_rel(path)}: unreadable ({e.strerror}); ignored")
        return
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(obj, dict):
            yield obj
        else:
            bad += 1
    if bad:
        problems.append(f"{_rel(path)}: {bad} damaged line(s) skipped")


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _read_journal(path: Path, problems: list[str]) -> Iterator[JournalEvent]:
    skipped = 0
    for obj in _json_lines(path, problems):
        ts = _num(obj.get("ts"))
        if ts is None or not isinstance(obj.get("type"), str):
            skipped += 1
            continue
        detail = obj.get("detail")
        variant = obj.get("variant")
        yield JournalEvent(
            ts=ts,
            t=_num(obj.get("t")),
            variant=variant if isinstance(variant, str) else None,
            type=obj["type"],
            name=str(obj.get("name") or ""),
            status=str(obj.get("status") or "ok"),
            detail=detail if isinstance(detail, dict) else {},
        )
    if skipped:
        problems.append(f"journal.jsonl: {skipped} event(s) without ts or type skipped")


def _run_info(
    path: Path, raw: dict[str, Any], journal: tuple[JournalEvent, ...], problems: list[str]
) -> RunInfo:
    schema = raw.get("schema")
    if raw and schema != RUN_SCHEMA:
        problems.append(
            f"run.json: schema {schema!r}, expected {RUN_SCHEMA}; read as far as it goes"
        )
    exp = raw.get("experiment") if isinstance(raw.get("experiment"), dict) else {}
    assert isinstance(exp, dict)
    slug = str(exp.get("slug") or path.name.partition("-")[2] or path.name)
    variants = raw.get("variants")
    compression = _num(raw.get("compression"))
    machine = raw.get("machine")
    sources = exp.get("sources")
    status = raw.get("status")
    started = _num(raw.get("started_at"))
    if started is None and journal:
        started = min(e.ts for e in journal)
    return RunInfo(
        title=str(exp.get("title") or slug),
        slug=slug,
        description=str(exp.get("description") or ""),
        models=_text(exp.get("models")),
        sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
        started_at=started,
        ended_at=_num(raw.get("ended_at")),
        status=status if status in ("complete", "partial") else "partial",
        variants=tuple(str(v) for v in variants) if isinstance(variants, list) else (),
        compression=compression if compression and compression > 0 else 1.0,
        machine=machine if isinstance(machine, dict) else {},
    )


def _text(value: Any) -> str:
    """A string, or a list of them joined (run.json's `models` is either)."""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value or "")


_TRUE = {"1", "true", "True", "yes"}


def _read_requests(path: Path, problems: list[str]) -> tuple[RequestRow, ...]:
    rows: list[RequestRow] = []
    bad = 0
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for rec in csv.DictReader(f):
                if any(v is None for v in rec.values()) or None in rec:
                    bad += 1  # a short row (cut off mid-write) or a long one
                    continue
                try:
                    rows.append(
                        RequestRow(
                            ts=float(rec["ts"]),
                            user=rec.get("user") or "",
                            route=rec.get("route") or "other",
                            path=rec.get("path") or "",
                            status=int(float(rec["status"])),
                            latency_ms=float(rec.get("latency_ms") or 0.0),
                            attack=(rec.get("attack") or "0").strip() in _TRUE,
                            attempt=int(float(rec.get("attempt") or 1)),
                            final=(rec.get("final") or "1").strip() in _TRUE,
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    bad += 1
    except FileNotFoundError:
        problems.append(f"{_rel(path)}: missing")
    except OSError as e:
        problems.append(f"{_rel(path)}: unreadable ({e.strerror}); ignored")
    if bad:
        problems.append(f"{_rel(path)}: {bad} damaged row(s) skipped")
    rows.sort(key=lambda r: r.ts)
    return tuple(rows)


def _read_scrapes(path: Path, problems: list[str]) -> tuple[Scrape, ...]:
    scrapes: list[Scrape] = []
    for obj in _json_lines(path, problems):
        ts = _num(obj.get("ts"))
        raw = obj.get("samples")
        if ts is None or not isinstance(raw, dict):
            continue
        samples = []
        for key, value in raw.items():
            parsed = _sample_key(str(key))
            v = _num(value)
            if parsed is not None and v is not None:
                samples.append(Sample(parsed[0], parsed[1], v))
        scrapes.append(Scrape(ts, str(obj.get("process") or "?"), tuple(samples)))
    scrapes.sort(key=lambda s: s.ts)
    return tuple(scrapes)


_LOCUST_FILES = (
    "locust_stats.csv",
    "locust_stats_history.csv",
    "locust_failures.csv",
    "locust.html",
)


def _load_warnings(path: Path, names: Iterable[str]) -> Iterator[str]:
    """A variant whose Locust passed its CPU warning (surge.json) may have been load-limited."""
    for name in names:
        try:
            surge = json.loads((path / "variants" / name / "surge.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(surge, dict) and surge.get("cpu_warning"):
            peak = surge.get("cpu_max_percent")
            at = f" (peak {peak:.0f}% of a core)" if isinstance(peak, int | float) else ""
            yield (
                f"{name}: the load generator passed 80% CPU{at}; it may have sent less load "
                "than asked (use more Locust workers)"
            )


def _read_variant(vdir: Path, name: str, problems: list[str]) -> VariantRun:
    if not vdir.is_dir():
        problems.append(f"variants/{name}/: missing (the variant did not run or was cut short)")
        return VariantRun(name, {}, (), (), ())
    lab = _read_json_object(vdir / "lab.json", problems)
    return VariantRun(
        name=name,
        lab=lab,
        requests=_read_requests(vdir / "requests.csv", problems),
        scrapes=_read_scrapes(vdir / "metrics.jsonl", problems),
        locust_files=tuple(f for f in _LOCUST_FILES if (vdir / f).is_file()),
    )
