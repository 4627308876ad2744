"""The pure metric functions on tiny inputs whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from edgelab.report import metrics as m
from edgelab.report.rundir import JournalEvent, RequestRow, Sample, Scrape


def req(ts: float, status: int = 200, **kw: object) -> RequestRow:
    fields: dict[str, object] = {
        "user": "browser",
        "route": "page",
        "path": "edge-a",
        "latency_ms": 10.0,
        "attack": False,
        "attempt": 1,
        "final": True,
    }
    fields.update(kw)
    return RequestRow(ts=ts, status=status, **fields)  # type: ignore[arg-type]


def scrape(ts: float, process: str, **samples: float) -> Scrape:
    return Scrape(ts, process, tuple(Sample(k, {}, v) for k, v in samples.items()))


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (304, True), (399, True), (403, False), (503, False), (0, False)],
)
def test_success(status: int, ok: bool) -> None:
    assert m.is_success(status) is ok


def test_availability_counts_final_legitimate_attempts_in_window() -> None:
    rows = [
        req(1.0, 0, final=False),  # retried: the user saw the retry
        req(1.1, 200, attempt=2),
        req(2.0, 500),
        req(2.5, 403, attack=True),  # an attack blocked: not a user's request
        req(5.0, 503),  # outside the window
    ]
    assert m.availability(rows, (1.0, 3.0)) == 0.5
    assert m.availability(rows) == pytest.approx(1 / 3)
    assert m.availability(rows, (10.0, 20.0)) is None
    assert m.errors_by_status(rows) == {"500": 1, "503": 1}


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 50, None), ([5.0], 99, 5.0), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 75, 3),
     (list(range(1, 101)), 95, 95), (list(range(1, 101)), 99, 99), ([3, 1, 2], 100, 3)],
)  # fmt: skip
def test_nearest_rank_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert m.percentile(values, q) == expected


def test_counter_increments_survive_a_restart() -> None:
    scrapes = [
        scrape(0, "origin", c=10),
        scrape(1, "edge-a-1", c=1000),  # another process: not counted
        scrape(1, "origin", c=15),
        scrape(2, "origin", c=3),  # restarted: 3 new since
        scrape(3, "origin", c=7),
    ]
    assert m.counter_increments(scrapes, "c", m.is_origin) == [(0, 1, 5), (1, 2, 3), (2, 3, 4)]
    assert m.counter_total(scrapes, "c", m.is_origin) == 12
    assert m.counter_total(scrapes, "missing", m.is_origin) is None


def test_a_labelled_counter_appears_at_its_first_increment() -> None:
    scrapes = [
        scrape(0, "origin", other=1),  # scraped, but nothing counted yet: no sample
        scrape(1, "origin", c=4),
        scrape(2, "origin-2", c=100),  # first scrape of another process: only its start
        scrape(3, "origin-2", c=101),
    ]
    assert m.counter_total(scrapes, "c", m.is_origin) == 5


def test_a_counter_never_incremented_is_zero_once_its_process_was_scraped() -> None:
    scrapes = [scrape(0, "origin", edgelab_origin_in_flight=0), scrape(1, "origin", other=1)]
    total = m.counter_total_or_zero(
        scrapes, "edgelab_origin_x_total", m.is_origin, prefix="edgelab_origin_"
    )
    assert total == 0
    assert m.counter_total_or_zero(scrapes, "x", m.is_edge, prefix="edgelab_edge_") is None


def test_spread_per_second_splits_uneven_intervals() -> None:
    # 30 requests between t=0.5 and t=2.0: 10 in [0.5, 1), 20 in [1, 2)
    assert m.spread_per_second([(100.5, 102.0, 30.0)], 100.0) == {0: 10.0, 1: 20.0}


def test_time_to_recover() -> None:
    ok, bad = 1.0, 0.2
    series = {b: bad for b in range(10, 14)} | {b: ok for b in range(14, 30)}
    assert m.time_to_recover(series, 10, 0.95, 29) == 4
    flicker = series | {15: bad}  # one good second is not recovery
    assert m.time_to_recover(flicker, 10, 0.95, 29) == 6
    assert m.time_to_recover({b: bad for b in range(10, 30)}, 10, 0.95, 29) is None
    assert m.time_to_recover(series | {28: bad, 29: ok}, 27, 0.95, 29) == 2  # cut by the end


def test_healthy_threshold_follows_a_weak_baseline() -> None:
    assert m.healthy_threshold(None) == m.HEALTHY_SUCCESS_RATIO
    assert m.healthy_threshold(0.9) == 0.9 and m.healthy_threshold(1.0) == 0.95


def test_traffic_moved() -> None:
    rows = [req(t) for t in (0.1, 0.5, 1.2, 2.1, 2.2)]
    rows += [req(3.1, path="origin-direct"), req(3.2, path="origin-direct"), req(3.3)]
    assert m.traffic_moved_at(rows, (2.0, 5.0), 0.0) == 3.0
    assert m.traffic_moved_at(rows, (0.0, 5.0), 0.0) is None  # no traffic before the fault


@pytest.mark.parametrize(
    ("lab", "expected"),
    [
        ({}, m.OriginCapacity(None, None, None)),
        ({"origin": {"workers": 8, "queue": 64, "mean_service_ms": 20}}, m.OriginCapacity(8, 64, 400, 20)),
        ({"origin": {"workers": 8, "capacity_rps": 123}}, m.OriginCapacity(8, None, 123)),
        ({"origin": {"capacity": {"workers": 4, "queue": 10, "service_time": {"mean_ms": 50}}}},
         m.OriginCapacity(4, 10, 80, 50)),
    ],
)  # fmt: skip
def test_origin_capacity(lab: dict[str, object], expected: m.OriginCapacity) -> None:
    assert m.origin_capacity(lab) == expected


def test_origin_capacity_measured_from_scrapes() -> None:
    """The lab state says workers and queue; the service time is measured: 2 s busy / 100."""
    lab = {"origin_capacity": {"workers": 4, "queue": 16}}
    scrapes = [
        scrape(0, "origin", **{m.ORIGIN_SERVICE_SUM: 0.0, m.ORIGIN_SERVICE_COUNT: 0.0}),
        scrape(1, "origin", **{m.ORIGIN_SERVICE_SUM: 2.0, m.ORIGIN_SERVICE_COUNT: 100.0}),
    ]
    assert m.origin_capacity(lab, scrapes) == m.OriginCapacity(4, 16, 200, 20)
    workers = [scrape(0, "origin", **{m.ORIGIN_WORKERS: 2.0})]
    assert m.origin_capacity({}, workers + scrapes).capacity_rps == 100


def test_process_filters_by_role() -> None:
    lab = {"processes": {"web": {"role": "origin"}, "pop": {"role": "edge", "cdn": "cdn-a"}}}
    is_origin, is_edge = m.process_filters(lab)
    assert is_origin("web") and not is_origin("pop") and is_edge("pop")
    assert is_origin("origin-2") and is_edge("edge-b-1")  # not listed: by name
    assert m.process_filters({})[0] is m.is_origin


def test_first_probe_failure_and_mitigation_event() -> None:
    def ev(ts: float, type: str, status: str = "ok", **detail: object) -> JournalEvent:
        return JournalEvent(ts, None, "v", type, type, status, detail)

    events = [
        ev(1, "probe", "failed"),  # before the fault
        ev(5, "probe"),
        ev(6, "action", mitigation=True),
        ev(7, "probe", "deviated"),
    ]
    assert m.first_probe_failure(events, (2, 10)) == 7
    assert m.first_probe_failure(events, (2, 7)) is None  # after the fault: not a detection
    assert m.first_mitigation_event(events, 2) == 6
    assert m.first_mitigation_event(events, 6.5) is None
