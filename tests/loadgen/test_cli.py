"""`edgelab surge` and `edgelab steer` refuse bad input with one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    f = tmp_path / "targets.json"
    f.write_text(json.dumps({"cdn-a": ["http://127.0.0.1:1"]}))
    return f


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--shape", "surge:users=3"], "--shape: (top level): Input tag 'surge'"),
        (["--shape", "steady:users=-3"], "--shape: steady.users: Input should be greater than"),
        (["--mix", "robot=2"], "--mix: 'robot=2' is not profile=weight"),
        (["--locustfile", "/nonexistent/locustfile.py"], "--locustfile: /nonexistent"),
    ],
)
def test_bad_surge_flags(
    targets: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    code, err = run(
        ["surge", "--targets", str(targets), "--out", str(tmp_path / "o"), *args], capsys
    )
    assert code == 2 and expected in err and "Traceback" not in err


def test_bad_targets_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"cdn-a": ["http://a"], "bypass": "dns-failover"}))
    code, err = run(["surge", "--targets", str(f)], capsys)
    assert code == 2 and f"{f}: (top level): Value error, bypass dns-failover needs" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "steer: no services"),
        (["--target", "cdn-a"], "--target: 'cdn-a' is not NAME=URL"),
        (["--target", "cdn-a=ftp://x"], "--target cdn-a: urls: Value error, must be http://"),
        (["--target", "a=http://x", "--failures", "0"], "flags: health.failures_to_down"),
    ],
)
def test_bad_steer_flags(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, err = run(["steer", "--port", "0", *args], capsys)
    assert code == 2 and expected in err and "Traceback" not in err


def test_bad_steer_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "steer.yaml"
    f.write_text(
        "services:\n  www:\n    - {name: a, urls: [http://x]}\n    - {name: a, urls: [http://y]}\n"
    )
    code, err = run(["steer", "--config", str(f), "--port", "0"], capsys)
    assert code == 2 and f"{f}: (top level): Value error, service www: target names repeat" in err


def test_interrupted_surge_exits_130(
    targets: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C (or SIGTERM, which `edgelab surge` turns into one) while Locust runs.
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("edgelab.loadgen.display.surge_with_display", interrupted)
    code, _ = run(["surge", "--targets", str(targets)], capsys)
    assert code == 130
