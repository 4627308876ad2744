"""The Locust load shape: `--edgelab-shape` (a file or `kind:key=value,...`) as a LoadTestShape.

    locust -f loadtests/locustfile.py --headless --edgelab-shape step:baseline_users=20,factor=5,t1_s=10,t2_s=30,duration_s=40

The shapes themselves (steady, step surge, spike, ramp, CSV-driven) are pure functions of
elapsed time in `edgelab.loadgen.shapes`; `tick()` only asks one of them about the run time.
Without `--edgelab-shape` the run is steady at Locust's own `-u`/`-r` (and `-t` ends it).
"""

from __future__ import annotations

import json

from locust import LoadTestShape

from edgelab.loadgen.shapes import Shape, parse_shape, shape_from_data


def shape_option(text: str) -> Shape | None:
    """The shape given on the command line: inline JSON (`{"kind": ...}`), a file or inline."""
    if not text:
        return None
    if text.lstrip().startswith("{"):
        return shape_from_data(json.loads(text), "--edgelab-shape")
    return parse_shape(text)


class EdgelabShape(LoadTestShape):
    """Users over time from `--edgelab-shape`; `tick()` depends on the elapsed time alone."""

    use_common_options = True
    _shape: Shape | None = None
    _loaded = False

    def tick(self) -> tuple[int, float] | None:
        if not self._loaded:
            assert self.runner is not None
            options = self.runner.environment.parsed_options
            self._shape = shape_option(getattr(options, "edgelab_shape", "") or "")
            self._loaded = True
        t = self.get_run_time()
        if self._shape is not None:
            return self._shape.at(t)
        options = self.runner.environment.parsed_options if self.runner else None
        run_time = getattr(options, "run_time", None)
        if run_time and t >= run_time:
            return None
        return int(getattr(options, "num_users", 1) or 1), float(
            getattr(options, "spawn_rate", 1) or 1
        )
