"""Stretch or shrink an experiment's timeline to a new load duration. Pure.

    short = scale_timeline(experiment, duration_s=12)   # every offset x 12/36

Used by `edgelab demo --duration` and by the shortened demo in the test suite: the same story,
told faster. Activity offsets, pauses and the shape's times scale together.
"""

from __future__ import annotations

from typing import Any

from edgelab.chaos.model import Experiment
from edgelab.errors import ConfigError

_SHAPE_TIMES = ("t1_s", "t2_s", "at_s", "hold_s")


def scale_timeline(experiment: Experiment, duration_s: float) -> Experiment:
    """Raises ConfigError for a duration that is not positive."""
    if not duration_s > 0:
        raise ConfigError(f"--duration: must be more than 0 seconds, got {duration_s:g}")
    factor = duration_s / experiment.load.duration_s
    data = experiment.model_dump(by_alias=True)

    def scale_activities(activities: list[dict[str, Any]]) -> None:
        for a in activities:
            for key in ("at_s", "pause_before_s", "pause_after_s"):
                if a.get(key) is not None:
                    a[key] = round(a[key] * factor, 3)
            if a["provider"]["func"] == "control.flap" and "period_s" in a["provider"]["arguments"]:
                args = a["provider"]["arguments"]
                args["period_s"] = max(0.5, round(args["period_s"] * factor, 3))

    scale_activities(data["method"])
    scale_activities(data["rollbacks"])
    data["load"]["duration_s"] = duration_s
    shape = dict(data["load"]["shape"])
    for key in _SHAPE_TIMES:
        if key in shape:
            shape[key] = round(shape[key] * factor, 3)
    data["load"]["shape"] = shape
    data["time"]["compression"] = experiment.time.compression / factor
    return Experiment.model_validate(data)
