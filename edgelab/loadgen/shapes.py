"""Surge shapes: how many users run at each moment, as pure functions of elapsed lab seconds.

    shape = parse_shape("step:baseline_users=20,factor=5,t1_s=10,t2_s=20,duration_s=30")
    shape.at(15.0)    # (100, 50.0): users and spawn rate at t=15 s; None once the run is over

Kinds: `steady`, `step` (baseline, then x factor from t1 to t2, then back), `spike` (a short
burst to a peak), `ramp` (linear from start to end users), and `csv` (rows of time, users,
spawn rate read from a file). `at(t)` depends on `t` alone, as Locust's `LoadTestShape.tick()`
should (loadtests/shapes.py wraps these). Every time is in lab seconds.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from edgelab.config.load import describe_validation_error, read_document
from edgelab.errors import ConfigError

Tick = tuple[int, float]
"""(users, spawn rate in users per second), as Locust's shape `tick()` returns."""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: float = Field(60.0, gt=0)
    """The run ends (tick returns None) at this many seconds."""
    spawn_rate: float = Field(50.0, gt=0)
    """Users started or stopped per second whenever the user count changes."""

    def users(self, t: float) -> int:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def at(self, t: float) -> Tick | None:
        """Users and spawn rate at `t` seconds into the run; None once it is over."""
        if t >= self.duration_s:
            return None
        return self.users(t), self.spawn_rate

    def peak_users(self) -> int:
        """The most users this shape ever asks for (for sizing a run)."""
        raise NotImplementedError  # pragma: no cover


class Steady(_Shape):
    """The same number of users for the whole run."""

    kind: Literal["steady"] = "steady"
    users_: int = Field(10, ge=0, alias="users")
    """Users for the whole run."""

    def users(self, t: float) -> int:
        return self.users_

    def peak_users(self) -> int:
        return self.users_


class StepSurge(_Shape):
    """Baseline users, then `factor` times as many from `t1_s` to `t2_s`, then back."""

    kind: Literal["step"] = "step"
    baseline_users: int = Field(10, ge=0)
    factor: float = Field(5.0, ge=0)
    """Surge size as a multiple of the baseline."""
    t1_s: float = Field(10.0, ge=0)
    """When the surge starts."""
    t2_s: float = Field(40.0, ge=0)
    """When the surge ends (back to baseline)."""

    @model_validator(mode="after")
    def _order(self) -> StepSurge:
        if self.t2_s < self.t1_s:
            raise ValueError("t2_s must be >= t1_s")
        return self

    def users(self, t: float) -> int:
        if self.t1_s <= t < self.t2_s:
            return round(self.baseline_users * self.factor)
        return self.baseline_users

    def peak_users(self) -> int:
        return max(self.baseline_users, round(self.baseline_users * self.factor))


class Spike(_Shape):
    """Baseline users with one short burst to `peak_users` at `at_s` for `hold_s` seconds."""

    kind: Literal["spike"] = "spike"
    baseline_users: int = Field(10, ge=0)
    peak_users_: int = Field(100, ge=0, alias="peak_users")
    at_s: float = Field(10.0, ge=0)
    hold_s: float = Field(5.0, ge=0)
    spawn_rate: float = Field(500.0, gt=0)
    """A spike arrives fast: users started per second on the way up."""

    def users(self, t: float) -> int:
        return self.peak_users_ if self.at_s <= t < self.at_s + self.hold_s else self.baseline_users

    def peak_users(self) -> int:
        return max(self.baseline_users, self.peak_users_)


class Ramp(_Shape):
    """Users grow (or shrink) linearly from `start_users` to `end_users` over the run."""

    kind: Literal["ramp"] = "ramp"
    start_users: int = Field(0, ge=0)
    end_users: int = Field(100, ge=0)

    def users(self, t: float) -> int:
        frac = min(max(t / self.duration_s, 0.0), 1.0)
        return round(self.start_users + (self.end_users - self.start_users) * frac)

    def at(self, t: float) -> Tick | None:
        tick = super().at(t)
        if tick is None:
            return None
        # Spawn at least as fast as the ramp climbs, so users track the line.
        slope = abs(self.end_users - self.start_users) / self.duration_s
        return tick[0], max(self.spawn_rate, math.ceil(slope))

    def peak_users(self) -> int:
        return max(self.start_users, self.end_users)


class CsvShape(_Shape):
    """Step changes read from a CSV of `time_s,users,spawn_rate` rows (first row at 0)."""

    kind: Literal["csv"] = "csv"
    points: tuple[tuple[float, int, float], ...] = Field(min_length=1)
    """(time_s, users, spawn_rate), sorted by time; each holds until the next."""
    source: str | None = None
    """The file the points came from (for the record)."""

    @model_validator(mode="after")
    def _sorted(self) -> CsvShape:
        times = [p[0] for p in self.points]
        if times[0] != 0 or times != sorted(times):
            raise ValueError("points must start at time 0 and be sorted by time")
        if any(p[1] < 0 or p[2] <= 0 for p in self.points):
            raise ValueError("users must be >= 0 and spawn_rate > 0")
        return self

    def _point(self, t: float) -> tuple[float, int, float]:
        current = self.points[0]
        for point in self.points:
            if point[0] > t:
                break
            current = point
        return current

    def users(self, t: float) -> int:
        return self._point(t)[1]

    def at(self, t: float) -> Tick | None:
        if t >= self.duration_s:
            return None
        _, users, rate = self._point(t)
        return users, rate

    def peak_users(self) -> int:
        return max(p[1] for p in self.points)


Shape = Annotated[Steady | StepSurge | Spike | Ramp | CsvShape, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Shape] = TypeAdapter(Shape)


def shape_from_data(data: object, source: str) -> Shape:
    """Validate a shape given as a dict (`{"kind": "step", ...}`); raises ConfigError."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as e:
        raise ConfigError(describe_validation_error(source, e)) from e


def read_csv_points(path: Path) -> tuple[tuple[float, int, float], ...]:
    """Rows `time_s,users,spawn_rate` (a header row is skipped); raises ConfigError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    points = []
    for n, row in enumerate(csv.reader(lines), start=1):
        if not row or row[0].strip().startswith("#"):
            continue
        try:
            t, users, rate = (cell.strip() for cell in row)
            points.append((float(t), int(users), float(rate)))
        except ValueError as e:
            if n == 1:  # a header row
                continue
            raise ConfigError(f"{path}:{n}: expected time_s,users,spawn_rate, got {row}") from e
    if not points:
        raise ConfigError(f"{path}: no rows of time_s,users,spawn_rate")
    return tuple(points)


def csv_shape(path: Path, duration_s: float | None = None) -> CsvShape:
    """A CSV shape from `path`; it ends at `duration_s` or at its last row's time."""
    points = read_csv_points(path)
    end = duration_s if duration_s is not None else points[-1][0]
    data = {"kind": "csv", "points": points, "source": str(path), "duration_s": end}
    shape = shape_from_data(data, str(path))
    assert isinstance(shape, CsvShape)
    return shape


def parse_shape(text: str) -> Shape:
    """A shape from a file (YAML/JSON, or CSV rows) or an inline `kind:key=value,...`.

    `steady:users=50,duration_s=30`, `csv:surge.csv`, `shape.yaml`. Raises ConfigError.
    """
    if text.startswith("csv:"):
        return csv_shape(Path(text.removeprefix("csv:")))
    path = Path(text)
    if path.suffix == ".csv":
        return csv_shape(path)
    if path.suffix in (".yaml", ".yml", ".json"):
        return shape_from_data(read_document(path), str(path))
    kind, _, rest = text.partition(":")
    data: dict[str, object] = {"kind": kind}
    for part in filter(None, rest.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"--shape: {part!r} is not key=value")
        data[key.strip()] = value.strip()
    return shape_from_data(data, "--shape")
