"""ReportData: everything the report shows, computed from a run directory before any rendering.

    data = build_report_data(read_run_dir(Path("runs/...")))
    data.summary.variants[0].availability_in_window     # 0.97
    data.summary.model_dump_json()                      # what summary.json holds
    data.series["dns-failover"].success                  # second -> success ratio, for charts

`Summary` is the versioned, documented shape of `summary.json` (its JSON Schema ships as
`edgelab/report/summary.schema.json`; see `edgelab.report.schema`). Bump `SUMMARY_SCHEMA` when a
field changes meaning or goes away; adding an optional field keeps the version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgelab import __version__
from edgelab.report import metrics as m
from edgelab.report.rundir import JournalEvent, RunDir, VariantRun

SUMMARY_SCHEMA = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LatencyStats(_Frozen):
    """Latency of users' requests (final attempts, legitimate traffic), nearest-rank."""

    p50_ms: float | None = Field(description="Median, milliseconds; null without requests.")
    p95_ms: float | None = Field(description="95th percentile, milliseconds.")
    p99_ms: float | None = Field(description="99th percentile, milliseconds.")
    count: int = Field(description="Requests the percentiles are taken over.")


class FaultWindow(_Frozen):
    start_s: float = Field(description="Lab seconds from the load start to the first fault-start.")
    end_s: float = Field(
        description="Lab seconds to the last fault-end (or the load stop if the fault never ended)."
    )
    ended: bool = Field(description="A fault-end event was journaled.")


class OriginSummary(_Frozen):
    """What the origin went through, from its per-second /metrics scrapes and lab.json."""

    baseline_rps: float | None = Field(
        description="Mean requests/s the origin was asked to serve before the fault."
    )
    peak_rps: float | None = Field(description="Highest one-second request rate at the origin.")
    peak_vs_baseline: float | None = Field(description="peak_rps / baseline_rps.")
    capacity_rps: float | None = Field(
        description="Requests/s it can serve: lab.json capacity_rps, or workers / mean service time."
    )
    peak_vs_capacity: float | None = Field(description="peak_rps / capacity_rps.")
    workers: int | None = Field(description="Origin workers (lab.json).")
    queue: int | None = Field(description="Origin queue length (lab.json).")
    shed_total: int | None = Field(
        description="Requests the origin shed with 503 (edgelab_origin_shed_total)."
    )
    shed_by_reason: dict[str, int] = Field(
        description="Shed requests by reason: queue_full, queue_timeout (a timeout in the queue)."
    )
    upstream_timeouts: int | None = Field(
        description="Edge requests answered 504 because the origin was too slow."
    )


class VariantSummary(_Frozen):
    """One bypass architecture's row of the comparison."""

    name: str
    complete: bool = Field(description="The journal has this variant's variant-end.")
    duration_s: float | None = Field(description="Lab seconds of load.")
    fault_window: FaultWindow | None = Field(description="Null when no fault started.")
    requests: int = Field(description="Users' requests: final attempts of legitimate traffic.")
    attempts: int = Field(description="All request attempts, retries and attacks included.")
    attack_attempts: int = Field(description="Attempts carrying the attack marker.")
    availability_in_window: float | None = Field(
        description="Succeeded (200-399) / users' requests started inside the fault window."
    )
    availability_overall: float | None = Field(description="Same, over the whole load.")
    errors_by_status: dict[str, int] = Field(
        description='Users\' failed requests by status; "0" = connection error or timeout.'
    )
    errors_total: int
    latency_in_window: LatencyStats
    latency_outside_window: LatencyStats
    origin: OriginSummary
    cache_hit_ratio: float | None = Field(
        description="Edge answers from cache / (from cache + from origin)."
    )
    attack_requests_to_origin: int | None = Field(
        description="Attack requests the origin received; null if nothing measured it."
    )
    attack_source: Literal["origin-metric", "requests-csv-direct", "none"] = Field(
        description=(
            "origin-metric: edgelab_origin_attack_requests_total; requests-csv-direct: attack "
            "rows sent origin-direct that got an answer (misses attacks passed by an edge)."
        )
    )
    time_to_detect_s: float | None = Field(
        description="Lab seconds from fault start to the first failed/deviated probe."
    )
    time_to_mitigate_s: float | None = Field(
        description="Lab seconds from fault start to traffic moved or the fault rejected."
    )
    mitigated_by: Literal["traffic-moved", "artifact-rejected", "journal"] | None = None
    time_to_recover_s: float | None = Field(
        description=f"Lab seconds from fault end to {m.RECOVERY_RUN_S} healthy seconds in a row."
    )
    recovered: bool | None = Field(
        description="Null when there is no fault end or no data after it."
    )
    findings: list[str] = Field(description="Plain-language findings, from these numbers only.")


class RunHeader(_Frozen):
    directory: str
    title: str
    slug: str
    description: str
    models: str = Field(description="The real incident or situation the experiment models.")
    sources: list[str]
    started_at: str | None = Field(description="UTC, ISO 8601.")
    ended_at: str | None
    duration_s: float | None = Field(description="Wall (lab) seconds the run took.")
    compression: float = Field(description="Real seconds per lab second.")
    status: Literal["complete", "partial"]
    problems: list[str] = Field(description="Missing or damaged files; why the run is partial.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Why numbers may be less trustworthy (e.g. the load generator short of CPU).",
    )
    machine: dict[str, str]


class Summary(_Frozen):
    """summary.json: stable for CI (`jq '.variants[] | .availability_in_window'`)."""

    schema_version: Literal[1] = Field(description="Bumped when a field changes meaning.")
    generator: str
    run: RunHeader
    variants: list[VariantSummary]
    best: dict[str, list[str]] = Field(
        description="Column key -> variants with the best value (only where values differ)."
    )


# --- the comparison table -------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    get: Callable[[VariantSummary], float | None]
    better: Literal["max", "min"]
    kind: Literal["ratio", "ms", "x", "s", "count", "pct"]


COLUMNS: tuple[Column, ...] = (
    Column("availability_in_window", "availability in fault", lambda v: v.availability_in_window, "max", "pct"),
    Column("availability_overall", "availability overall", lambda v: v.availability_overall, "max", "pct"),
    Column("errors_total", "errors", lambda v: v.errors_total if v.requests else None, "min", "count"),
    Column("p50_in_window", "p50 in fault", lambda v: v.latency_in_window.p50_ms, "min", "ms"),
    Column("p95_in_window", "p95 in fault", lambda v: v.latency_in_window.p95_ms, "min", "ms"),
    Column("p99_in_window", "p99 in fault", lambda v: v.latency_in_window.p99_ms, "min", "ms"),
    Column("p50_outside_window", "p50 outside", lambda v: v.latency_outside_window.p50_ms, "min", "ms"),
    Column("p95_outside_window", "p95 outside", lambda v: v.latency_outside_window.p95_ms, "min", "ms"),
    Column("p99_outside_window", "p99 outside", lambda v: v.latency_outside_window.p99_ms, "min", "ms"),
    Column("origin_peak_vs_baseline", "origin peak / baseline", lambda v: v.origin.peak_vs_baseline, "min", "x"),
    Column("origin_peak_vs_capacity", "origin peak / capacity", lambda v: v.origin.peak_vs_capacity, "min", "x"),
    Column("origin_shed", "origin 503s", lambda v: v.origin.shed_total, "min", "count"),
    Column("upstream_timeouts", "origin timeouts (504)", lambda v: v.origin.upstream_timeouts, "min", "count"),
    Column("cache_hit_ratio", "cache hit ratio", lambda v: v.cache_hit_ratio, "max", "pct"),
    Column("attack_requests_to_origin", "attacks at origin", lambda v: v.attack_requests_to_origin, "min", "count"),
    Column("time_to_detect_s", "detect", lambda v: v.time_to_detect_s, "min", "s"),
    Column("time_to_mitigate_s", "mitigate", lambda v: v.time_to_mitigate_s, "min", "s"),
    Column("time_to_recover_s", "recover", lambda v: v.time_to_recover_s, "min", "s"),
)  # fmt: skip


def best_per_column(variants: Sequence[VariantSummary]) -> dict[str, list[str]]:
    """Column key -> the variants holding its best value; a column whose values are all equal
    (or that fewer than two variants have) marks nobody. A variant that did not finish competes
    only when none did: its few seconds are no match for a whole run."""
    best: dict[str, list[str]] = {}
    finished = [v for v in variants if v.complete]
    for col in COLUMNS:
        values = [(v.name, col.get(v)) for v in finished or variants]
        known = [(n, x) for n, x in values if x is not None]
        if len(known) < 2 or len({x for _, x in known}) == 1:
            continue
        pick = max if col.better == "max" else min
        target = pick(x for _, x in known)
        best[col.key] = [n for n, x in known if x == target]
    return best


# --- chart series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventMark:
    t: float
    """Lab seconds since the variant's load start."""
    type: str
    name: str
    status: str


@dataclass(frozen=True)
class VariantSeries:
    """Per-second series of one variant, keyed by lab second since its load start."""

    name: str
    window: tuple[float, float] | None
    events: tuple[EventMark, ...]
    success: dict[int, float]
    latency: dict[int, m.Latency]
    rps_by_path: dict[str, dict[int, int]]
    origin_rps: dict[int, float]
    origin_shed_rps: dict[int, float]
    capacity_rps: float | None
    cache_hit: dict[int, float]
    attacks: dict[int, float]
    attack_source: str
    artifact_versions: dict[str, list[tuple[float, float]]]
    """`<process>/<kind>` -> [(lab second, version)]."""


@dataclass(frozen=True)
class ReportData:
    summary: Summary
    series: dict[str, VariantSeries]

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.summary.variants]


# --- building -------------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _events(run: RunDir, variant: str) -> list[JournalEvent]:
    return sorted((e for e in run.journal if e.variant == variant), key=lambda e: e.ts)


def _first(events: Sequence[JournalEvent], kind: str) -> JournalEvent | None:
    return next((e for e in events if e.type == kind), None)


def _last(events: Sequence[JournalEvent], kind: str) -> JournalEvent | None:
    return next((e for e in reversed(events) if e.type == kind), None)


def _load_start(v: VariantRun, events: Sequence[JournalEvent]) -> float | None:
    start = _first(events, "load-start")
    if start is not None:
        return start.ts
    candidates = [v.requests[0].ts] if v.requests else []
    candidates += [v.scrapes[0].ts] if v.scrapes else []
    return min(candidates) if candidates else None


def _load_end(v: VariantRun, events: Sequence[JournalEvent]) -> float | None:
    stop = _last(events, "load-stop")
    if stop is not None:
        return stop.ts
    candidates = [v.requests[-1].ts] if v.requests else []
    candidates += [v.scrapes[-1].ts] if v.scrapes else []
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class _Times:
    t0: float
    end: float
    window: m.Window | None
    fault_ended: bool


def _times(v: VariantRun, events: Sequence[JournalEvent]) -> _Times | None:
    t0 = _load_start(v, events)
    end = _load_end(v, events)
    if t0 is None or end is None:
        return None
    start = _first(events, "fault-start")
    if start is None:
        return _Times(t0, end, None, False)
    stop = _last(events, "fault-end")
    ended = stop is not None and stop.ts >= start.ts
    w_end = stop.ts if stop is not None and ended else max(end, start.ts)
    return _Times(t0, end, (start.ts, w_end), ended)


def _lat(x: m.Latency) -> LatencyStats:
    return LatencyStats(p50_ms=x.p50_ms, p95_ms=x.p95_ms, p99_ms=x.p99_ms, count=x.count)


def _int(x: float | None) -> int | None:
    return None if x is None else round(x)


def build_variant(
    v: VariantRun, events: Sequence[JournalEvent]
) -> tuple[VariantSummary, VariantSeries]:
    """One variant's row and chart series (findings are filled in by `build_report_data`)."""
    times = _times(v, events)
    rows = v.requests
    t0 = times.t0 if times else 0.0
    window = times.window if times else None
    last_bin = m.bin_of(times.end, t0) if times else 0

    is_origin, is_edge = m.process_filters(v.lab)
    success_counts = m.success_by_second(rows, t0)
    success = m.ratio_series(success_counts)

    # Origin load: rate of everything it was asked to serve, spread per second.
    origin_rps = m.spread_per_second(
        m.counter_increments(v.scrapes, m.ORIGIN_REQUESTS, is_origin), t0
    )
    shed_rps = m.spread_per_second(
        m.counter_increments(v.scrapes, m.ORIGIN_REQUESTS, is_origin, {"status": "503"}), t0
    )
    cap = m.origin_capacity(v.lab, v.scrapes, is_origin)
    fault_bin = m.bin_of(window[0], t0) if window else last_bin + 1
    baseline = m.mean_rate(origin_rps, 0, fault_bin)
    peak = max(origin_rps.values()) if origin_rps else None
    shed_by_reason: dict[str, int] = {}
    for reason in m.label_values(v.scrapes, m.ORIGIN_SHED, "reason"):
        total = m.counter_total(v.scrapes, m.ORIGIN_SHED, is_origin, {"reason": reason})
        shed_by_reason[reason] = _int(total) or 0
    shed_total = m.counter_total_or_zero(
        v.scrapes, m.ORIGIN_SHED, is_origin, prefix=m.ORIGIN_PREFIX
    )
    timeouts = m.counter_total_or_zero(
        v.scrapes, m.EDGE_UPSTREAM_ERRORS, is_edge, {"status": "504"}, prefix=m.EDGE_PREFIX
    )

    # Cache hit ratio, overall and per second.
    hits = m.counter_increments(v.scrapes, m.EDGE_REQUESTS, is_edge, {"path_taken": "cache"})
    fetched = m.counter_increments(v.scrapes, m.EDGE_REQUESTS, is_edge, {"path_taken": "origin"})
    n_hit, n_fetch = sum(d for *_, d in hits), sum(d for *_, d in fetched)
    hit_ratio = n_hit / (n_hit + n_fetch) if hits and n_hit + n_fetch > 0 else None
    hit_s, fetch_s = m.spread_per_second(hits, t0), m.spread_per_second(fetched, t0)
    cache_hit = {
        b: hit_s.get(b, 0.0) / (hit_s.get(b, 0.0) + fetch_s.get(b, 0.0))
        for b in sorted(set(hit_s) | set(fetch_s))
        if hit_s.get(b, 0.0) + fetch_s.get(b, 0.0) > 0
    }

    # Attack requests that reached the origin.
    attack_total = m.counter_total_or_zero(
        v.scrapes, m.ORIGIN_ATTACKS, is_origin, prefix=m.ORIGIN_PREFIX
    )
    attack_source: Literal["origin-metric", "requests-csv-direct", "none"]
    if attack_total is not None:
        attack_source = "origin-metric"
        attacks = m.spread_per_second(
            m.counter_increments(v.scrapes, m.ORIGIN_ATTACKS, is_origin), t0
        )
    elif any(r.attack for r in rows):
        attack_source = "requests-csv-direct"
        attack_total = float(len(m.attack_rows_direct(rows)))
        attacks = m.attacks_direct_by_second(rows, t0)
    else:
        attack_source, attacks = "none", {}

    # Detect, mitigate, recover.
    detect = mitigate = recover = None
    mitigated_by: Literal["traffic-moved", "artifact-rejected", "journal"] | None = None
    recovered: bool | None = None
    fault_window: FaultWindow | None = None
    if window is not None and times is not None:
        fault_window = FaultWindow(
            start_s=window[0] - t0, end_s=window[1] - t0, ended=times.fault_ended
        )
        probe = m.first_probe_failure(events, window)
        detect = probe - window[0] if probe is not None else None
        candidates: list[tuple[float, Literal["traffic-moved", "artifact-rejected", "journal"]]]
        candidates = []
        moved = m.traffic_moved_at(rows, window, t0)
        if moved is not None:
            candidates.append((moved, "traffic-moved"))
        rejected = m.first_increase_at(
            v.scrapes, m.EDGE_ARTIFACT_OUTCOMES, is_edge, window[0], m.REJECTED
        )
        if rejected is not None and rejected <= window[1]:
            candidates.append((rejected, "artifact-rejected"))
        marked = m.first_mitigation_event(events, window[0])
        if marked is not None:
            candidates.append((marked, "journal"))
        if candidates:
            at, mitigated_by = min(candidates)
            mitigate = max(0.0, at - window[0])
        if times.fault_ended:
            pre = {b: n for b, n in success_counts.items() if b < fault_bin}
            pre_ratio = (
                sum(ok for ok, _ in pre.values()) / sum(n for _, n in pre.values())
                if pre and sum(n for _, n in pre.values())
                else None
            )
            end_bin = m.bin_of(window[1], t0)
            if any(b >= end_bin for b in success):
                recover = m.time_to_recover(
                    success, end_bin, m.healthy_threshold(pre_ratio), last_bin
                )
                recovered = recover is not None

    versions: dict[str, list[tuple[float, float]]] = {}
    for key, points in m.gauge_series(
        v.scrapes, m.EDGE_ARTIFACT_VERSION, is_edge, by="kind"
    ).items():
        versions[key] = [(ts - t0, val) for ts, val in points]

    errors = m.errors_by_status(rows)
    summary = VariantSummary(
        name=v.name,
        complete=any(e.type == "variant-end" for e in events),
        duration_s=(times.end - times.t0) if times else None,
        fault_window=fault_window,
        requests=len(m.user_rows(rows)),
        attempts=len(rows),
        attack_attempts=sum(r.attack for r in rows),
        availability_in_window=m.availability(rows, window) if window else None,
        availability_overall=m.availability(rows),
        errors_by_status=errors,
        errors_total=sum(errors.values()),
        latency_in_window=_lat(m.latency(rows, window, inside=True)),
        latency_outside_window=_lat(m.latency(rows, window, inside=False)),
        origin=OriginSummary(
            baseline_rps=baseline,
            peak_rps=peak,
            peak_vs_baseline=m.ratio(peak, baseline),
            capacity_rps=cap.capacity_rps,
            peak_vs_capacity=m.ratio(peak, cap.capacity_rps),
            workers=cap.workers,
            queue=cap.queue,
            shed_total=_int(shed_total),
            shed_by_reason=shed_by_reason,
            upstream_timeouts=_int(timeouts),
        ),
        cache_hit_ratio=hit_ratio,
        attack_requests_to_origin=_int(attack_total),
        attack_source=attack_source,
        time_to_detect_s=detect,
        time_to_mitigate_s=mitigate,
        mitigated_by=mitigated_by,
        time_to_recover_s=recover,
        recovered=recovered,
        findings=[],
    )
    series = VariantSeries(
        name=v.name,
        window=(window[0] - t0, window[1] - t0) if window else None,
        events=tuple(EventMark(e.ts - t0, e.type, e.name, e.status) for e in events),
        success=success,
        latency=m.latency_by_second(rows, t0),
        rps_by_path=m.rps_by_path(rows, t0),
        origin_rps=origin_rps,
        origin_shed_rps=shed_rps,
        capacity_rps=cap.capacity_rps,
        cache_hit=cache_hit,
        attacks=attacks,
        attack_source=attack_source,
        artifact_versions=versions,
    )
    return summary, series


def build_report_data(run: RunDir) -> ReportData:
    """The whole report's data from a run directory read by `read_run_dir`."""
    from edgelab.report.findings import findings_for

    built = [build_variant(v, _events(run, v.name)) for v in run.variants]
    rows = [s for s, _ in built]
    best = best_per_column(rows)
    rows = [
        s.model_copy(update={"findings": findings_for(s, rows, best, run.info.compression)})
        for s in rows
    ]
    info = run.info
    ended = info.ended_at
    if ended is None and run.journal:
        ended = max(e.ts for e in run.journal)
    header = RunHeader(
        directory=run.path.name,
        title=info.title,
        slug=info.slug,
        description=info.description,
        models=info.models,
        sources=list(info.sources),
        started_at=_iso(info.started_at),
        ended_at=_iso(info.ended_at),
        duration_s=(ended - info.started_at) if ended and info.started_at else None,
        compression=info.compression,
        status="partial" if run.partial else "complete",
        problems=list(run.problems),
        warnings=list(run.warnings),
        machine={str(k): str(v) for k, v in info.machine.items()},
    )
    summary = Summary(
        schema_version=SUMMARY_SCHEMA,
        generator=f"edgelab {__version__}",
        run=header,
        variants=rows,
        best=best,
    )
    return ReportData(summary, {s.name: series for s, series in built})
