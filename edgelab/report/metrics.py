"""The report's numbers: pure functions of request rows, scrapes and journal events.

    rows = run.variants[0].requests
    availability(rows, window=(fault_start_ts, fault_end_ts))   # 0.97
    latency(rows, window, inside=True).p95_ms

No I/O, no clock: every function takes the run's data and returns a number (or None when the
run holds nothing to compute it from, which the report shows as "n/a", never as 0).

Definitions (the report's glossary repeats them):

- *As users saw them*: only `final` attempts count (a retried request counts once, with the
  outcome of its last try), and only legitimate traffic (`attack` = 0).
- *Success*: status 200-399. A 4xx to a legitimate user (a bot rule blocking real people) is a
  failure as that user saw it; status 0 is a connection error or timeout.
- *Fault window*: from the variant's first `fault-start` to its last `fault-end` (or the load
  stop when the fault never ended); a request is inside it when its attempt started inside.
- *Percentiles*: nearest rank over the latencies of final legitimate attempts (an earlier,
  failed attempt's time is not added to its retry's).
- *Origin load*: requests per second the origin was asked to serve (all statuses, shed ones
  included), from the increase of `edgelab_origin_requests_total`; the baseline is its mean
  before the fault, the capacity is `workers / mean service time` from lab.json.
- *Cache hit ratio*: edge answers from cache / (from cache + fetched from origin), from
  `edgelab_edge_requests_total{path_taken}`; answers the edge made itself (blocks, errors) are
  left out.
- *Attack requests that reached the origin*: the increase of
  `edgelab_origin_attack_requests_total` (the origin counts the attack marker, whichever way the
  request came). Without that series: attack rows of requests.csv that went `origin-direct` and
  got a response, which misses attacks passed through an edge (the report says which it used).
- *Time to detect*: from fault start to the first failed or deviated probe in the journal,
  inside the fault window.
- *Time to mitigate*: from fault start to the first of: most traffic leaving the path it used
  before the fault (requests.csv); an edge rejecting a pushed artifact
  (`edgelab_edge_artifact_outcomes_total{outcome="rejected"}` rising); a journal event with `detail.mitigation`.
- *Time to recover*: from fault end to the start of the first run of `RECOVERY_RUN_S` healthy
  seconds (success ratio at least `healthy_threshold(baseline)`), 0 if already healthy.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgelab.report.rundir import JournalEvent, RequestRow, Scrape

Window = tuple[float, float]
"""(start_ts, end_ts) in epoch seconds, start inclusive, end exclusive."""

HEALTHY_SUCCESS_RATIO = 0.95
"""A second is healthy when at least this share of users' requests succeeded (or the pre-fault
ratio, if that was lower: a run that was never at 95% still recovers to where it was)."""
RECOVERY_RUN_S = 3
"""Consecutive healthy seconds that count as recovered (one good second is noise)."""
MOVED_SHARE = 0.5
"""Traffic has moved when the pre-fault main path carries less than this share of a second."""

ORIGIN_PREFIX = "edgelab_origin_"
EDGE_PREFIX = "edgelab_edge_"
ORIGIN_REQUESTS = "edgelab_origin_requests_total"
ORIGIN_SHED = "edgelab_origin_shed_total"
ORIGIN_ATTACKS = "edgelab_origin_attack_requests_total"
EDGE_REQUESTS = "edgelab_edge_requests_total"
EDGE_UPSTREAM_ERRORS = "edgelab_edge_upstream_errors_total"
EDGE_ARTIFACT_VERSION = "edgelab_edge_artifact_version"
EDGE_ARTIFACT_OUTCOMES = "edgelab_edge_artifact_outcomes_total"
REJECTED = {"outcome": "rejected"}
"""`EDGE_ARTIFACT_OUTCOMES` labels of an artifact the edge refused (edgelab/edge/subscriber.py)."""


def is_success(status: int) -> bool:
    return 200 <= status < 400


def user_rows(rows: Iterable[RequestRow]) -> list[RequestRow]:
    """Requests as users saw them: final attempts of legitimate traffic."""
    return [r for r in rows if r.final and not r.attack]


def in_window(ts: float, window: Window | None) -> bool:
    return window is not None and window[0] <= ts < window[1]


# --- requests.csv ---------------------------------------------------------------------------


def availability(rows: Iterable[RequestRow], window: Window | None = None) -> float | None:
    """Share of users' requests that succeeded (inside `window` if given); None if none."""
    seen = [r for r in user_rows(rows) if window is None or in_window(r.ts, window)]
    if not seen:
        return None
    return sum(is_success(r.status) for r in seen) / len(seen)


def errors_by_status(rows: Iterable[RequestRow]) -> dict[str, int]:
    """Users' failed requests by status ("0" = connection error/timeout), sorted by status."""
    counts: dict[int, int] = defaultdict(int)
    for r in user_rows(rows):
        if not is_success(r.status):
            counts[r.status] += 1
    return {str(k): counts[k] for k in sorted(counts)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100) of `values`; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    count: int


def latency_of(values: Sequence[float]) -> Latency:
    return Latency(
        percentile(values, 50), percentile(values, 95), percentile(values, 99), len(values)
    )


def latency(rows: Iterable[RequestRow], window: Window | None, *, inside: bool) -> Latency:
    """Percentiles of users' latencies inside (or outside) `window`."""
    values = [r.latency_ms for r in user_rows(rows) if in_window(r.ts, window) == inside]
    return latency_of(values)


def attack_rows_direct(rows: Iterable[RequestRow]) -> list[RequestRow]:
    """Attack attempts that went straight to the origin and got an answer from it."""
    return [r for r in rows if r.attack and r.path == "origin-direct" and r.status != 0]


def main_path(rows: Iterable[RequestRow], before_ts: float) -> str | None:
    """The path that carried most attempts before `before_ts` (the normal way in)."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.ts < before_ts:
            counts[r.path] += 1
    if not counts:
        return None
    return max(sorted(counts), key=lambda p: counts[p])


def traffic_moved_at(rows: Sequence[RequestRow], window: Window, t0: float) -> float | None:
    """Epoch second (bin start) when the pre-fault main path first carried < MOVED_SHARE of the
    attempts of a second inside the window; None if it never did (or there was no main path)."""
    primary = main_path(rows, window[0])
    if primary is None:
        return None
    total: dict[int, int] = defaultdict(int)
    on_primary: dict[int, int] = defaultdict(int)
    for r in rows:
        if in_window(r.ts, window):
            b = bin_of(r.ts, t0)
            total[b] += 1
            on_primary[b] += r.path == primary
    for b in sorted(total):
        if on_primary[b] / total[b] < MOVED_SHARE:
            return max(window[0], t0 + b)
    return None


# --- time series ----------------------------------------------------------------------------


def bin_of(ts: float, t0: float, width_s: float = 1.0) -> int:
    """The index of the `width_s` bin holding `ts`, counted from `t0` (may be negative)."""
    return math.floor((ts - t0) / width_s)


def success_by_second(rows: Iterable[RequestRow], t0: float) -> dict[int, tuple[int, int]]:
    """Second -> (succeeded, seen) of users' requests."""
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in user_rows(rows):
        cell = out[bin_of(r.ts, t0)]
        cell[0] += is_success(r.status)
        cell[1] += 1
    return {b: (c[0], c[1]) for b, c in sorted(out.items())}


def ratio_series(counts: Mapping[int, tuple[int, int]]) -> dict[int, float]:
    return {b: ok / n for b, (ok, n) in counts.items() if n}


def latency_by_second(rows: Iterable[RequestRow], t0: float) -> dict[int, Latency]:
    values: dict[int, list[float]] = defaultdict(list)
    for r in user_rows(rows):
        values[bin_of(r.ts, t0)].append(r.latency_ms)
    return {b: latency_of(v) for b, v in sorted(values.items())}


def rps_by_path(rows: Iterable[RequestRow], t0: float) -> dict[str, dict[int, int]]:
    """Path -> second -> attempts started (all traffic, retries and attacks included)."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        out[r.path][bin_of(r.ts, t0)] += 1
    return {p: dict(sorted(s.items())) for p, s in sorted(out.items())}


def attacks_direct_by_second(rows: Iterable[RequestRow], t0: float) -> dict[int, float]:
    out: dict[int, float] = defaultdict(float)
    for r in attack_rows_direct(rows):
        out[bin_of(r.ts, t0)] += 1
    return dict(sorted(out.items()))


# --- metrics.jsonl --------------------------------------------------------------------------

ProcessFilter = Callable[[str], bool]


def is_origin(process: str) -> bool:
    return process.startswith("origin")


def is_edge(process: str) -> bool:
    return process.startswith("edge")


def process_filters(lab: Mapping[str, Any]) -> tuple[ProcessFilter, ProcessFilter]:
    """(is origin, is edge) for one variant: by `role` where lab.json's `processes` lists it
    (a dict by name, as the lab state has it, or a list of {name, role}), else by name."""
    procs = lab.get("processes")
    if isinstance(procs, dict):  # the lab state: name -> {role, ...}, the name only as the key
        entries = [{"name": name, **p} for name, p in procs.items() if isinstance(p, dict)]
    else:
        entries = procs if isinstance(procs, list) else []
    roles: dict[str, str] = {}
    for p in entries:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            if isinstance(p.get("role"), str):
                roles[p["name"]] = p["role"]
    if not roles:
        return is_origin, is_edge

    def by(role: str, fallback: ProcessFilter) -> ProcessFilter:
        return lambda name: roles[name] == role if name in roles else fallback(name)

    return by("origin", is_origin), by("edge", is_edge)


def _matches(labels: Mapping[str, str], want: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in want.items())


def _value(scrape: Scrape, name: str, labels: Mapping[str, str]) -> float | None:
    """Sum of the samples of `name` whose labels include `labels`; None if there is none."""
    found = [s.value for s in scrape.samples if s.name == name and _matches(s.labels, labels)]
    return sum(found) if found else None


def counter_increments(
    scrapes: Iterable[Scrape],
    name: str,
    processes: ProcessFilter,
    labels: Mapping[str, str] | None = None,
) -> list[tuple[float, float, float]]:
    """(from_ts, to_ts, increase) between consecutive scrapes of each matching process.

    A counter that went down was reset (the process restarted): its new value is the increase.
    A labelled counter has no sample until its first increment, so once a process has been
    scraped, a missing sample counts as 0 (the first scrape of a process only sets the start).
    """
    want = labels or {}
    last: dict[str, tuple[float, float]] = {}
    out: list[tuple[float, float, float]] = []
    for s in scrapes:
        if not processes(s.process):
            continue
        v = _value(s, name, want) or 0.0
        prev = last.get(s.process)
        if prev is not None and s.ts > prev[0]:
            out.append((prev[0], s.ts, v - prev[1] if v >= prev[1] else v))
        last[s.process] = (s.ts, v)
    return out


def counter_total(
    scrapes: Iterable[Scrape],
    name: str,
    processes: ProcessFilter,
    labels: Mapping[str, str] | None = None,
) -> float | None:
    """How much the counter rose over the run (summed over processes); None if never scraped."""
    inc = counter_increments(scrapes, name, processes, labels)
    seen = any(processes(s.process) and _value(s, name, labels or {}) is not None for s in scrapes)
    return sum(d for _, _, d in inc) if seen else None


def scraped(scrapes: Iterable[Scrape], processes: ProcessFilter, prefix: str) -> bool:
    """Whether any matching process was scraped with a sample named `prefix...`: then a
    labelled counter without samples is 0 (it appears at its first increment), not unknown."""
    return any(
        processes(s.process) and any(x.name.startswith(prefix) for x in s.samples) for s in scrapes
    )


def counter_total_or_zero(
    scrapes: Sequence[Scrape],
    name: str,
    processes: ProcessFilter,
    labels: Mapping[str, str] | None = None,
    *,
    prefix: str,
) -> float | None:
    """`counter_total`, but 0 when the process was scraped and the counter never appeared."""
    total = counter_total(scrapes, name, processes, labels)
    if total is None and scraped(scrapes, processes, prefix):
        return 0.0
    return total


def label_values(scrapes: Iterable[Scrape], name: str, label: str) -> list[str]:
    return sorted(
        {
            s.labels[label]
            for sc in scrapes
            for s in sc.samples
            if s.name == name and label in s.labels
        }
    )


def spread_per_second(
    increments: Iterable[tuple[float, float, float]], t0: float
) -> dict[int, float]:
    """Second -> rate: each increase spread evenly over the seconds its interval covers.

    Scrapes a little more or less than a second apart still give a faithful per-second rate.
    """
    out: dict[int, float] = defaultdict(float)
    for a, b, d in increments:
        span = b - a
        first, last = bin_of(a, t0), bin_of(b, t0)
        for k in range(first, last + 1):
            lo, hi = max(a, t0 + k), min(b, t0 + k + 1)
            if hi > lo:
                out[k] += d * (hi - lo) / span
    return dict(sorted(out.items()))


def gauge_series(
    scrapes: Iterable[Scrape], name: str, processes: ProcessFilter, by: str | None = None
) -> dict[str, list[tuple[float, float]]]:
    """`process` (or `process/<label by>`) -> [(ts, value)] of a gauge."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in scrapes:
        if not processes(s.process):
            continue
        for sample in s.samples:
            if sample.name != name:
                continue
            key = s.process if by is None else f"{s.process}/{sample.labels.get(by, '?')}"
            out[key].append((s.ts, sample.value))
    return dict(sorted(out.items()))


def first_increase_at(
    scrapes: Iterable[Scrape],
    name: str,
    processes: ProcessFilter,
    after_ts: float,
    labels: Mapping[str, str] | None = None,
) -> float | None:
    """The scrape time at which the counter first rose after `after_ts`."""
    increments = counter_increments(scrapes, name, processes, labels)
    for _, b, d in sorted(increments, key=lambda x: x[1]):
        if b > after_ts and d > 0:
            return b
    return None


# --- origin capacity (lab.json) -------------------------------------------------------------


@dataclass(frozen=True)
class OriginCapacity:
    workers: int | None
    queue: int | None
    capacity_rps: float | None
    """Requests per second it can serve: `capacity_rps` from lab.json, else workers / mean
    service time (from lab.json, or measured from the origin's service-time histogram)."""
    mean_service_ms: float | None = None


ORIGIN_WORKERS = "edgelab_origin_capacity_workers"
ORIGIN_SERVICE_SUM = "edgelab_origin_service_seconds_sum"
ORIGIN_SERVICE_COUNT = "edgelab_origin_service_seconds_count"


def _get_num(d: Mapping[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = d.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def origin_capacity(
    lab: Mapping[str, Any], scrapes: Sequence[Scrape] = (), processes: ProcessFilter = is_origin
) -> OriginCapacity:
    """The origin's capacity from lab.json, completed from its scrapes (docs/contracts.md).

    lab.json may say it as `origin: {workers, queue, mean_service_ms, capacity_rps}`, in the
    origin profile's shape `origin: {capacity: {workers, queue, service_time: {mean_ms}}}`, or as
    the lab state's `origin_capacity: {workers, queue}`. What it leaves out comes from the
    scrapes: `edgelab_origin_capacity_workers`, and the mean service time measured as the
    increase of `edgelab_origin_service_seconds_sum` over that of `_count`.
    """
    origin = lab.get("origin")
    origin = origin if isinstance(origin, dict) else {}
    cap = origin.get("capacity") if isinstance(origin.get("capacity"), dict) else origin
    assert isinstance(cap, dict)
    state = lab.get("origin_capacity")
    state = state if isinstance(state, dict) else {}
    workers = _get_num(cap, "workers") or _get_num(state, "workers")
    queue = _get_num(cap, "queue")
    queue = queue if queue is not None else _get_num(state, "queue")
    mean_ms = _get_num(origin, "mean_service_ms") or _get_num(cap, "mean_service_ms")
    st = cap.get("service_time")
    if mean_ms is None and isinstance(st, dict):
        mean_ms = _get_num(st, "mean_ms")
    if workers is None:
        gauge = gauge_series(scrapes, ORIGIN_WORKERS, processes)
        values = [v for points in gauge.values() for _, v in points[-1:]]
        workers = sum(values) if values else None
    if mean_ms is None:
        busy_s = counter_total(scrapes, ORIGIN_SERVICE_SUM, processes)
        served = counter_total(scrapes, ORIGIN_SERVICE_COUNT, processes)
        if busy_s is not None and served:
            mean_ms = busy_s * 1000.0 / served
    rps = _get_num(origin, "capacity_rps") or _get_num(cap, "capacity_rps")
    if rps is None and workers and mean_ms:
        rps = workers * 1000.0 / mean_ms
    return OriginCapacity(
        int(workers) if workers is not None else None,
        int(queue) if queue is not None else None,
        rps,
        mean_ms,
    )


# --- summary numbers ------------------------------------------------------------------------


def mean_rate(per_second: Mapping[int, float], first: int, end: int) -> float | None:
    """Mean of the per-second rate over seconds [first, end) that have data; None if none."""
    vals = [v for b, v in per_second.items() if first <= b < end]
    return sum(vals) / len(vals) if vals else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def healthy_threshold(baseline: float | None) -> float:
    if baseline is None:
        return HEALTHY_SUCCESS_RATIO
    return min(HEALTHY_SUCCESS_RATIO, baseline)


def time_to_recover(
    success: Mapping[int, float], fault_end_bin: int, threshold: float, last_bin: int
) -> float | None:
    """Seconds from the fault's end to the first run of RECOVERY_RUN_S healthy seconds.

    A run cut short by the end of the data counts if it reaches the end. None if it never
    recovered (or there is no data after the fault).
    """
    bins = [b for b in range(fault_end_bin, last_bin + 1) if b in success]
    for i, b in enumerate(bins):
        run = bins[i : i + RECOVERY_RUN_S]
        contiguous = all(run[j] == b + j for j in range(len(run)))
        # the data may end before `last_bin` (the load's last second carries no request)
        enough = len(run) == RECOVERY_RUN_S or (run and run[-1] == bins[-1])
        if contiguous and enough and all(success[x] >= threshold for x in run):
            return float(b - fault_end_bin)
    return None


def first_probe_failure(events: Iterable[JournalEvent], window: Window) -> float | None:
    """Epoch time of the first probe that failed or deviated inside the fault window (one
    failing after the fault is over did not detect it)."""
    for e in sorted(events, key=lambda e: e.ts):
        if in_window(e.ts, window) and e.type == "probe" and e.status in ("failed", "deviated"):
            return e.ts
    return None


def first_mitigation_event(events: Iterable[JournalEvent], after_ts: float) -> float | None:
    """Epoch time of the first journal event marked `detail.mitigation` at/after `after_ts`."""
    for e in sorted(events, key=lambda e: e.ts):
        if e.ts >= after_ts and e.detail.get("mitigation"):
            return e.ts
    return None
