"""Shapes: users at each moment as a function of elapsed time only."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.errors import ConfigError
from edgelab.loadgen.shapes import CsvShape, Steady, parse_shape, shape_from_data


@pytest.mark.parametrize(
    ("spec", "t", "expected"),
    [
        ("steady:users=7,spawn_rate=3,duration_s=10", 0.0, (7, 3.0)),
        ("steady:users=7,spawn_rate=3,duration_s=10", 9.99, (7, 3.0)),
        ("steady:users=7,spawn_rate=3,duration_s=10", 10.0, None),
        ("step:baseline_users=20,factor=5,t1_s=10,t2_s=20,duration_s=30", 9.9, (20, 50.0)),
        ("step:baseline_users=20,factor=5,t1_s=10,t2_s=20,duration_s=30", 10.0, (100, 50.0)),
        ("step:baseline_users=20,factor=5,t1_s=10,t2_s=20,duration_s=30", 19.9, (100, 50.0)),
        ("step:baseline_users=20,factor=5,t1_s=10,t2_s=20,duration_s=30", 20.0, (20, 50.0)),
        ("step:baseline_users=3,factor=2.5,t1_s=1,t2_s=2,duration_s=3", 1.5, (8, 50.0)),
        ("spike:baseline_users=5,peak_users=80,at_s=4,hold_s=2,duration_s=9", 3.9, (5, 500.0)),
        ("spike:baseline_users=5,peak_users=80,at_s=4,hold_s=2,duration_s=9", 4.0, (80, 500.0)),
        ("spike:baseline_users=5,peak_users=80,at_s=4,hold_s=2,duration_s=9", 6.0, (5, 500.0)),
        ("ramp:start_users=0,end_users=100,duration_s=10,spawn_rate=5", 0.0, (0, 10.0)),
        ("ramp:start_users=0,end_users=100,duration_s=10,spawn_rate=5", 2.5, (25, 10.0)),
        ("ramp:start_users=0,end_users=100,duration_s=10,spawn_rate=50", 9.0, (90, 50.0)),
        ("ramp:start_users=40,end_users=0,duration_s=4", 1.0, (30, 50.0)),
    ],
)
def test_users_at(spec: str, t: float, expected: tuple[int, float] | None) -> None:
    assert parse_shape(spec).at(t) == expected


def test_tick_depends_on_time_alone() -> None:
    shape = parse_shape("step:baseline_users=4,factor=3,t1_s=1,t2_s=2,duration_s=3")
    times = [0.0, 1.5, 2.5, 1.5, 0.0, 2.5]
    assert [shape.at(t) for t in times] == [shape.at(t) for t in times]
    assert shape.at(1.5) == (12, 50.0) and shape.at(0.0) == (4, 50.0)


def test_csv_shape(tmp_path: Path) -> None:
    csv = tmp_path / "surge.csv"
    csv.write_text("time_s,users,spawn_rate\n0,10,5\n# the surge\n5,60,100\n12,10,20\n20,0,10\n")
    shape = parse_shape(str(csv))
    assert isinstance(shape, CsvShape)
    assert [shape.at(t) for t in (0, 4.9, 5, 11.9, 12, 19.9, 20)] == [
        (10, 5.0),
        (10, 5.0),
        (60, 100.0),
        (60, 100.0),
        (10, 20.0),
        (10, 20.0),
        None,
    ]
    assert shape.peak_users() == 60
    assert parse_shape(f"csv:{csv}") == shape


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("surge:users=3", "does not match any of the expected tags"),
        ("steady:users", "'users' is not key=value"),
        ("step:t1_s=5,t2_s=1", "t2_s must be >= t1_s"),
        ("steady:users=-1", "users: Input should be greater than or equal to 0"),
        ("steady:flavour=1", "flavour: Extra inputs are not permitted"),
    ],
)
def test_bad_inline_shapes(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shape(text)


@pytest.mark.parametrize(
    ("rows", "message"),
    [("5,10,1\n", "start at time 0"), ("0,10,1\n5,x,1\n", ":2: expected"), ("", "no rows")],
)
def test_bad_csv(tmp_path: Path, rows: str, message: str) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text(rows)
    with pytest.raises(ConfigError, match=message):
        parse_shape(str(csv))


def test_shape_file_and_json_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "shape.yaml"
    f.write_text("kind: steady\nusers: 12\nduration_s: 8\n")
    shape = parse_shape(str(f))
    assert shape == Steady.model_validate({"users": 12, "duration_s": 8})
    again = shape_from_data(shape.model_dump(by_alias=True), "json")
    assert again == shape and again.peak_users() == 12
