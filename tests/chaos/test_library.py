"""The shipped incident library: every file validates, says what it models and where from."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.chaos.cli import library_dir
from edgelab.chaos.load import load_experiment
from edgelab.chaos.scale import scale_timeline
from edgelab.cli import main

LIBRARY = sorted(library_dir().glob("*.yaml"))


def test_the_library_is_there() -> None:
    assert {p.stem for p in LIBRARY} >= {
        "cloudflare-2025-11-18",
        "aws-us-east-1-2025-10-20",
        "fastly-2021-06-08",
        "slow-origin",
        "partial-fleet-pop-loss",
        "purge-storm",
    }


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_experiment_validates_and_cites(path: Path) -> None:
    exp = load_experiment(path)
    assert exp.description and exp.models and exp.sources
    assert all(s.startswith("https://") for s in exp.sources)
    assert any(a.fault == "start" for a in exp.method)
    assert len(exp.variants) >= 2


def test_scaling_keeps_the_story() -> None:
    exp = load_experiment(library_dir() / "cloudflare-2025-11-18.yaml")
    short = scale_timeline(exp, 12)
    factor = 12 / exp.load.duration_s
    assert short.load.duration_s == 12
    assert [a.at_s for a in short.method] == [
        None if a.at_s is None else round(a.at_s * factor, 3) for a in exp.method
    ]
    assert short.load.shape["t1_s"] == round(exp.load.shape["t1_s"] * factor, 3)
    assert short.time.compression == pytest.approx(exp.time.compression / factor)


def test_chaos_list_names_them(capsys: pytest.CaptureFixture[str]) -> None:
    main(["chaos", "list"])
    out = capsys.readouterr().out
    assert "cloudflare-2025-11-18" in out and "purge-storm" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["demo", "--experiment", "nope"], "nope: no such experiment file or shipped experiment"),
        (["demo", "--variant", "bogus"], "--variant: unknown bogus"),
        (
            ["chaos", "run", "cloudflare-2025-11-18", "--duration", "-3"],
            "--duration: must be more than 0",
        ),
    ],
)
def test_demo_and_run_mistakes_are_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    captured = capsys.readouterr()
    assert e.value.code == 2 and expected in captured.err and "Traceback" not in captured.err
    assert "──" not in captured.out  # nothing started before the mistake was found
