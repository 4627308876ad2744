"""Reading run directories tolerantly: partial runs are read as far as they go, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgelab.errors import ConfigError
from edgelab.report.model import build_report_data
from edgelab.report.rundir import parse_sample_key, read_run_dir
from tests.report import scenario
from tests.report.factory import RunBuilder, aborted_run, steady_traffic


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("up", ("up", {})),
        ('x_total{a="1",b="two"}', ("x_total", {"a": "1", "b": "two"})),
        ("x_total{a=1, b=two}", ("x_total", {"a": "1", "b": "two"})),
        ('x{path_taken="cache",status="200",}', ("x", {"path_taken": "cache", "status": "200"})),
        ('x{q="a,\\"b\\""}', ("x", {"q": 'a,"b"'})),
        ("not a key", None),
        ("x{=1}", None),
    ],
)
def test_parse_sample_key(key: str, expected: tuple[str, dict[str, str]] | None) -> None:
    assert parse_sample_key(key) == expected


def test_missing_run_dir_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such run directory") as e:
        read_run_dir(tmp_path / "nope")
    assert "\n" not in str(e.value)


def test_a_directory_that_is_no_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run directory"):
        read_run_dir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        read_run_dir(tmp_path / "file")


def test_complete_run_has_no_problems(tmp_path: Path) -> None:
    run = read_run_dir(scenario.build(tmp_path / "run").path)
    assert not run.partial and run.problems == ()
    assert [v.name for v in run.variants] == ["none", "dns-failover", "serve-stale"]
    assert run.info.compression == 60.0 and run.info.models.startswith("Cloudflare")


def test_partial_run_is_read_and_marked(tmp_path: Path) -> None:
    run = read_run_dir(aborted_run(tmp_path / "run"))
    assert run.partial
    text = "\n".join(run.problems)
    assert "status is 'partial'" in text
    assert "journal.jsonl: 1 damaged line(s) skipped" in text
    assert "variants/dns-failover/metrics.jsonl: missing" in text
    assert "variants/dns-failover/requests.csv: 1 damaged row(s) skipped" in text
    assert "variants/serve-stale/: missing" in text
    assert [v.name for v in run.variants] == ["none", "dns-failover", "serve-stale"]


def test_partial_run_still_has_numbers(tmp_path: Path) -> None:
    data = build_report_data(read_run_dir(aborted_run(tmp_path / "run")))
    assert data.summary.run.status == "partial"
    none, dns, stale = data.summary.variants
    assert none.complete and none.availability_in_window == 0
    assert not dns.complete
    # the fault never ended: its window runs to the last request (T0 + 54.5)
    assert dns.fault_window is not None and not dns.fault_window.ended
    assert dns.fault_window.end_s == pytest.approx(13.5)
    assert dns.availability_in_window == 0 and dns.recovered is None
    assert dns.origin.peak_rps is None
    assert stale.requests == 0 and stale.availability_overall is None
    assert "serve-stale" not in data.summary.best.get("errors_total", [])  # no requests, no "best"
    assert "did not finish" in dns.findings[-1]
    assert data.summary.best == {}  # only `none` finished: nobody to be best against
    assert none.findings[0] == "none failed every user request during the fault."
    assert "no user requests" in stale.findings[0]


def test_run_without_run_json(tmp_path: Path) -> None:
    run = RunBuilder(tmp_path / "20251118T112000Z-some-slug", write_run_json=False)
    v = run.variant("only")
    run.timeline("only", fault=None, load_s=5)
    steady_traffic(v, seconds=5)
    run.write()
    read = read_run_dir(run.path)
    assert read.partial and read.info.slug == "some-slug"
    assert "run.json: missing" in read.problems
    assert [v.name for v in read.variants] == ["only"]
    data = build_report_data(read)
    assert data.summary.variants[0].availability_overall == 1.0
    assert data.summary.variants[0].fault_window is None


def test_garbage_files_are_problems_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("[1, 2")
    (tmp_path / "journal.jsonl").write_bytes(b"\xff\xfe{not json}\n[1]\n")
    vdir = tmp_path / "variants" / "x"
    vdir.mkdir(parents=True)
    (vdir / "lab.json").write_text(json.dumps([]))
    (vdir / "requests.csv").write_text("nonsense\n1,2,3\n")
    (vdir / "metrics.jsonl").write_text('{"ts": "x"}\n{"ts": 1, "samples": {"a{": 1, "b": "x"}}\n')
    run = read_run_dir(tmp_path)
    assert run.partial and len(run.problems) >= 4
    data = build_report_data(run)
    assert data.summary.variants[0].requests == 0


def test_a_load_generator_short_of_cpu_is_a_warning_not_a_partial_run(tmp_path: Path) -> None:
    path = scenario.build(tmp_path / "run").path
    (path / "variants" / "none" / "surge.json").write_text(
        json.dumps({"cpu_warning": True, "cpu_max_percent": 97.4})
    )
    run = read_run_dir(path)
    assert not run.partial
    assert run.warnings == (
        "none: the load generator passed 80% CPU (peak 97% of a core); it may have sent less "
        "load than asked (use more Locust workers)",
    )
    assert build_report_data(run).summary.run.warnings == list(run.warnings)
