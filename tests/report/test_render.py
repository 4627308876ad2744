"""The files a report writes, and the CLI around it (data is checked in test_model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgelab.cli import main
from edgelab.errors import ConfigError
from edgelab.report.charts import CHART_IDS
from edgelab.report.compare import change, compare
from edgelab.report.model import build_report_data
from edgelab.report.render import ReportPaths, fmt
from edgelab.report.rundir import read_run_dir
from tests.report import scenario
from tests.report.factory import RunBuilder, aborted_run, steady_traffic


def test_report_files(complete_report: ReportPaths) -> None:
    html = complete_report.html.read_text()
    positions = [html.find(f'<figure class="chart" id="{chart_id}"') for chart_id in CHART_IDS]
    assert -1 not in positions and positions == sorted(positions)
    assert html.count("<svg") == len(CHART_IDS)
    # self-contained: nothing to fetch (source links are plain anchors)
    for external in ("<script", "<link", "src=", "@import", "url(http"):
        assert external not in html
    assert 'id="run-status">complete<' in html
    md = complete_report.markdown.read_text()
    assert "| serve-stale | **100.0%** | **100.0%** |" in md
    assert "- **dns-failover**: dns-failover kept 85.0%" in md


def test_partial_report(partial_report: ReportPaths) -> None:
    html = partial_report.html.read_text()
    assert 'id="run-status">partial<' in html and "variants/serve-stale/: missing" in html
    assert "Partial run" in partial_report.markdown.read_text()


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [(None, "pct", "n/a"), (0.97, "pct", "97.0%"), (6.14, "x", "6.1×"), (1234, "count", "1,234"),
     (2.5, "ms", "2.5 ms"), (140, "ms", "140 ms"), (3, "s", "3.0 s")],
)  # fmt: skip
def test_fmt(value: float | None, kind: str, text: str) -> None:
    assert fmt(value, kind) == text


def test_compare(tmp_path: Path) -> None:
    before = build_report_data(read_run_dir(scenario.build(tmp_path / "a").path))
    after = build_report_data(read_run_dir(aborted_run(tmp_path / "b")))
    result = compare(before, after)
    none = next(r for r in result.rows if r.variant == "none")
    cell = none.cells["availability_in_window"]
    assert (cell.a, cell.b, cell.change) == (0.5, 0.0, "worse")
    assert none.cells["time_to_mitigate_s"].change == ""  # B never mitigated: no comparison
    assert change(2.0, 1.0, "min") == "better" and change(1.0, 1.0, "max") == "same"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def small_run(path: Path) -> Path:
    run = RunBuilder(path)
    run.timeline("only", fault=(2, 4), load_s=6)
    steady_traffic(run.variant("only"), seconds=6, per_s=2, failing={2: 1})
    return run.write()


def test_cli_report_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = small_run(tmp_path / "a"), small_run(tmp_path / "b")
    code, out, _ = run_cli(["report", str(a)], capsys)
    files = ("summary.json", "summary.md", "report.html")
    assert code == 0 and out.split() == [str(a / f) for f in files]
    assert all((a / f).stat().st_size > 0 for f in files)
    code, out, _ = run_cli(["report", "compare", str(a), str(b), "--out", str(tmp_path)], capsys)
    assert code == 0 and (tmp_path / "compare.html").is_file()
    assert "= same" in (tmp_path / "compare.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "nope: no such run directory"),
        (["compare", "x"], "give two run directories"),
        (["a", "b"], "give one run directory"),
    ],
)
def test_cli_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run_cli(["report", *args], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_compare_refuses_different_experiments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = small_run(tmp_path / "a")
    other = small_run(tmp_path / "b")
    run_json = json.loads((other / "run.json").read_text())
    run_json["experiment"]["slug"] = "another"
    (other / "run.json").write_text(json.dumps(run_json))
    code, _, err = run_cli(["report", "compare", str(a), str(other)], capsys)
    assert code == 2 and "compare two runs of one experiment" in err


def test_package_entry_points(tmp_path: Path) -> None:
    import edgelab.report

    a, b = small_run(tmp_path / "a"), small_run(tmp_path / "b")
    assert edgelab.report.write_comparison(a, b).markdown.is_file()
    with pytest.raises(ConfigError, match="no such run directory"):  # charts are drawn elsewhere
        edgelab.report.write_report(tmp_path / "nope")
