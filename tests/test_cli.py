"""User mistakes on the command line: one line naming the file or flag, exit code 2, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from edgelab.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    return int(e.value.code or 0), err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("capacity:\n  workers: 0\n", "capacity.workers: Input should be greater than 0"),
        ("capacity:\n  wrokers: 4\n", "capacity.wrokers: Extra inputs are not permitted"),
        ("capacity: [unclosed\n", "invalid YAML"),
        (
            "capacity:\n  service_time: {distribution: lognormal, mean_ms: 50, p99_ms: 10}\n",
            "p99_ms must be >= mean_ms",
        ),
    ],
)
def test_bad_origin_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    profile = tmp_path / "origin.yaml"
    profile.write_text(text)
    code, err = run(
        ["origin", "--profile", str(profile), "--port", "0", "--admin-port", "0"], capsys
    )
    assert code == 2
    assert str(profile) in err and expected in err
    assert "Traceback" not in err


def test_missing_profile_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["origin", "--profile", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: no such file" in err


def test_bad_edge_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(
        ["edge", "--origin", "ftp://example", "--port", "0", "--admin-port", "0"], capsys
    )
    assert code == 2 and "flags: origin:" in err and "http://host:port" in err


@pytest.mark.parametrize("command", ["origin", "edge"])
def test_port_in_use(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        extra = ["--admin-port", "0"]
        code, err = run([command, "--port", str(port), *extra], capsys)
    assert code == 2
    assert f"127.0.0.1:{port} is already in use" in err
    assert "--port" in err or command == "origin"
    assert err.count("\n") == 1
