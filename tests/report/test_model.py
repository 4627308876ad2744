"""Known answers: the hand-made run of tests/report/scenario.py, number by number."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.report.model import ReportData, VariantSummary, build_report_data
from edgelab.report.rundir import read_run_dir
from tests.report import scenario


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    path = tmp_path_factory.mktemp("runs") / "20251118T112000Z-cloudflare-2025-11-18"
    scenario.build(path)
    return build_report_data(read_run_dir(path))


def row(data: ReportData, name: str) -> VariantSummary:
    return next(v for v in data.summary.variants if v.name == name)


def test_header(data: ReportData) -> None:
    run = data.summary.run
    assert run.status == "complete" and run.problems == []
    assert run.slug == "cloudflare-2025-11-18"
    assert run.started_at == "2025-11-18T11:19:55Z"
    assert run.compression == 60.0
    assert data.variant_names == ["none", "dns-failover", "serve-stale"]


@pytest.mark.parametrize(
    ("variant", "in_window", "overall"),
    [("none", 50 / 100, 220 / 300), ("dns-failover", 85 / 100, 285 / 300), ("serve-stale", 1, 1)],
)
def test_availability(data: ReportData, variant: str, in_window: float, overall: float) -> None:
    v = row(data, variant)
    assert v.availability_in_window == pytest.approx(in_window)
    assert v.availability_overall == pytest.approx(overall)


def test_retried_attempt_is_not_what_the_user_saw(data: ReportData) -> None:
    v = row(data, "none")
    assert v.requests == 300 and v.attempts == 301
    assert v.errors_by_status == {"500": 80} and v.errors_total == 80


def test_latency_in_and_out_of_window(data: ReportData) -> None:
    dns = row(data, "dns-failover")
    assert (dns.latency_in_window.p50_ms, dns.latency_in_window.p95_ms) == (140, 190)
    assert dns.latency_in_window.p99_ms == 190 and dns.latency_in_window.count == 100
    assert (dns.latency_outside_window.p50_ms, dns.latency_outside_window.p99_ms) == (14, 19)
    assert dns.latency_outside_window.count == 200


def test_fault_window(data: ReportData) -> None:
    w = row(data, "none").fault_window
    assert w is not None and (w.start_s, w.end_s, w.ended) == (10, 20, True)
    assert row(data, "none").duration_s == 30


def test_origin_amplification_and_capacity(data: ReportData) -> None:
    o = row(data, "dns-failover").origin
    assert o.baseline_rps == pytest.approx(10)
    assert o.peak_rps == pytest.approx(60)
    assert o.peak_vs_baseline == pytest.approx(6.0)
    assert o.capacity_rps == pytest.approx(40)
    assert o.peak_vs_capacity == pytest.approx(1.5)
    assert (o.workers, o.queue) == (4, 16)
    assert o.shed_total == 60
    assert o.shed_by_reason == {"queue_full": 50, "queue_timeout": 10}
    assert o.upstream_timeouts == 2


def test_origin_numbers_absent_without_scrapes(data: ReportData) -> None:
    o = row(data, "serve-stale").origin
    assert o.peak_rps is None and o.peak_vs_baseline is None and o.shed_total is None
    assert row(data, "serve-stale").cache_hit_ratio is None


def test_cache_hit_ratio(data: ReportData) -> None:
    assert row(data, "dns-failover").cache_hit_ratio == pytest.approx(0.75)
    assert data.series["dns-failover"].cache_hit[5] == pytest.approx(0.75)


def test_attacks_from_origin_metric_or_direct_rows(data: ReportData) -> None:
    dns, stale = row(data, "dns-failover"), row(data, "serve-stale")
    assert (dns.attack_requests_to_origin, dns.attack_source) == (30, "origin-metric")
    # 20 direct attack attempts, 10 of them never answered
    assert (stale.attack_requests_to_origin, stale.attack_source) == (10, "requests-csv-direct")
    assert stale.attack_attempts == 20


def test_detect_mitigate_recover(data: ReportData) -> None:
    dns, none, stale = (row(data, n) for n in ("dns-failover", "none", "serve-stale"))
    assert dns.time_to_detect_s == pytest.approx(2.5)
    assert (dns.time_to_mitigate_s, dns.mitigated_by) == (3.0, "traffic-moved")
    assert (dns.time_to_recover_s, dns.recovered) == (0.0, True)
    assert none.time_to_detect_s is None
    assert (none.time_to_mitigate_s, none.mitigated_by) == (1.0, "artifact-rejected")
    assert (none.time_to_recover_s, none.recovered) == (3.0, True)
    assert stale.time_to_mitigate_s is None and stale.time_to_recover_s == 0.0


def test_best_per_column(data: ReportData) -> None:
    best = data.summary.best
    assert best["availability_in_window"] == ["serve-stale"]
    assert best["errors_total"] == ["serve-stale"]
    assert best["p50_in_window"] == ["none", "serve-stale"]
    assert best["time_to_recover_s"] == ["dns-failover", "serve-stale"]
    assert best["time_to_mitigate_s"] == ["none"]
    assert best["attack_requests_to_origin"] == ["serve-stale"]
    assert "origin_peak_vs_baseline" not in best  # only one variant measured it


def test_series(data: ReportData) -> None:
    dns = data.series["dns-failover"]
    assert dns.window == (10, 20)
    assert dns.success[10] == 0.5 and dns.success[13] == 1.0
    assert dns.rps_by_path["origin-direct"][13] == 10 and 13 not in dns.rps_by_path["edge-a"]
    assert dns.origin_rps[15] == pytest.approx(60) and dns.origin_shed_rps[15] == pytest.approx(6)
    assert dns.artifact_versions["edge-a-1/bot-features"] == [(0, 0), (10, 1), (20, 2), (30, 3)]
    assert [e.type for e in dns.events if e.type.startswith("fault")] == [
        "fault-start",
        "fault-end",
    ]


def test_findings_say_only_what_was_measured(data: ReportData) -> None:
    dns = row(data, "dns-failover").findings
    assert dns[0] == (
        "dns-failover kept 85.0% of users' requests working during the fault, and sent the "
        "origin 6.0× its pre-fault load (1.5× its capacity), made it shed 60 requests with 503 "
        "and let 30 attack requests reach it."
    )
    assert dns[1] == (
        "A probe caught the fault after 2.5 lab s (≈ 2.5 min real); traffic moved off its usual "
        "path after 3 lab s (≈ 3 min real); it was healthy as soon as the fault ended."
    )
    stale = row(data, "serve-stale").findings
    assert stale[0].startswith("serve-stale kept 100.0%")
    for unmeasured in ("load", "capacity", "shed"):  # no origin scrapes in this variant
        assert unmeasured not in stale[0]
    assert "sent 10 attack requests straight to the origin." in stale[0]


def test_summary_is_json_roundtrip(data: ReportData, tmp_path: Path) -> None:
    text = data.summary.model_dump_json()
    assert type(data.summary).model_validate_json(text) == data.summary
