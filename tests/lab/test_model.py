"""Lab files: the default one is valid, bad ones get one line naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.cli import main
from edgelab.errors import ConfigError
from edgelab.lab.model import LabFile, load_lab, overlay


def test_default_lab_shape() -> None:
    lab = load_lab(None)
    assert [o.name for o in lab.origins] == ["origin"]
    assert [(c.name, c.pops) for c in lab.cdns] == [("a", 2), ("b", 1)]
    assert lab.toxiproxy.enabled and lab.toxiproxy.links.origin and lab.toxiproxy.links.direct
    assert lab.control.enabled and lab.steering.enabled


def test_empty_file_is_a_lab(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text("{}\n")
    assert load_lab(path) == LabFile()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cdns: [{name: a, pops: 0}]\n", "cdns.0.pops: Input should be greater than or equal to 1"),
        ("cdns: [{name: A}]\n", "cdns.0.name: String should match pattern"),
        (
            "cdns: [{name: a, edge: {upstream: {read_timeout_s: -1}}}]\n",
            "cdns.0.edge.upstream.read_timeout_s",
        ),
        (
            "origins: [{name: origin, profile: {capacity: {workers: 0}}}]\n",
            "origins.0.profile.capacity.workers",
        ),
        ("origins: []\n", "origins: Tuple should have at least 1 item"),
        ("cdns: [{name: a}, {name: a}]\n", "cdn names must be unique"),
        ("cdns: [{name: a, origin: nope}]\n", "origin 'nope' is not one of ['origin']"),
        (
            "toxiproxy: {port: 70000}\n",
            "toxiproxy.port: Input should be less than or equal to 65535",
        ),
        ("steerin: {}\n", "steerin: Extra inputs are not permitted"),
        ("cdns: [unclosed\n", "invalid YAML"),
    ],
)
def test_bad_lab_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_lab(path)
    with pytest.raises(SystemExit) as e:
        main(["lab", "up", "--lab", str(path), "--dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith(f"edgelab: error: {path}") and expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists(), "nothing may start for a bad lab file"


def test_missing_lab_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["lab", "up", "--lab", str(tmp_path / "nope.yaml")])
    assert e.value.code == 2 and "nope.yaml: no such file" in capsys.readouterr().err


def test_bad_origin_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["lab", "up", "--origin-url", "ftp://x", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--origin-url: origin:" in err and err.count("\n") == 1


def test_overlay_for_experiments() -> None:
    lab = overlay(
        load_lab(None),
        {"cdns": [{"name": "a", "pops": 1}], "steering": {"ttl_s": 2}},
        {"upstream": {"read_timeout_s": 2}},
    )
    assert [(c.name, c.pops) for c in lab.cdns] == [("a", 1)]
    assert lab.cdns[0].edge.upstream.read_timeout_s == 2
    assert lab.cdns[0].edge.upstream.connect_timeout_s == 2.0  # the rest kept
    assert lab.steering.ttl_s == 2 and lab.steering.interval_s == 1
    with pytest.raises(ConfigError, match=r"^variant x: cdns.0.pops: Input should be"):
        overlay(lab, {"cdns": [{"name": "a", "pops": 0}]}, source="variant x")
