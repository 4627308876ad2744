"""Experiment file -> validated `Experiment`, with every problem reported before anything starts.

    experiment = load_experiment(Path("chaos/experiments/slow-origin.yaml"))

Checks beyond the schema: every provider names a catalogue entry and its arguments fit the
function's signature; every variant overlay still validates.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from edgelab.chaos.catalogue import CATALOGUE
from edgelab.chaos.model import Activity, Experiment
from edgelab.config.edge import EdgeConfig
from edgelab.config.load import parse_model, read_document
from edgelab.errors import ConfigError


def _activity_problems(where: str, activity: Activity) -> list[str]:
    func = CATALOGUE.get(activity.provider.func)
    if func is None:
        known = ", ".join(sorted(CATALOGUE))
        return [f"{where}.provider.func: unknown {activity.provider.func!r} (known: {known})"]
    params = inspect.signature(func).parameters
    accepted = {n for n, p in params.items() if n != "ctx" and p.kind is not p.VAR_KEYWORD}
    problems = [
        f"{where}.provider.arguments.{name}: not an argument of {activity.provider.func}"
        for name in activity.provider.arguments
        if name not in accepted
    ]
    required = {
        n
        for n, p in params.items()
        if n != "ctx" and p.default is p.empty and p.kind is p.KEYWORD_ONLY
    }
    problems += [
        f"{where}.provider.arguments: {activity.provider.func} needs {name!r}"
        for name in sorted(required - set(activity.provider.arguments))
    ]
    return problems


def check_load(experiment: Experiment) -> None:
    """The load section against the load generator's own models (shape, retry policy)."""
    from edgelab.loadgen.retry import RetryPolicy
    from edgelab.loadgen.shapes import shape_from_data

    shape_from_data(experiment.load.shape, "load.shape")
    parse_model(experiment.load.retry, RetryPolicy, "load.retry")
    # the overlay every POP gets must still be a valid edge config
    parse_model(experiment.lab.edge, EdgeConfig, "lab.edge")


def check_experiment(experiment: Experiment, source: str) -> None:
    """Raise ConfigError listing every problem (one line each) the schema alone cannot see."""
    problems: list[str] = []
    sections = (
        ("steady-state-hypothesis.probes", experiment.steady_state_hypothesis.probes),
        ("method", experiment.method),
        ("rollbacks", experiment.rollbacks),
    )
    for name, activities in sections:
        for i, activity in enumerate(activities):
            problems += _activity_problems(f"{name}.{i}", activity)
    for variant in experiment.variant_names():
        try:
            check_load(experiment.for_variant(variant))
        except ConfigError as e:
            problems.append(f"variants.{variant}: {e}")
        except ValueError as e:
            problems.append(f"variants.{variant}: {str(e).splitlines()[0]}")
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))


def load_experiment(path: Path) -> Experiment:
    """Read, validate and check `path`; raises ConfigError naming file, field and reason."""
    experiment = parse_model(read_document(path), Experiment, str(path))
    check_experiment(experiment, str(path))
    return experiment
