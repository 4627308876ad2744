"""The real lab and the real load behind the runner's two factories.

    lab_factory = EmbeddedLab(experiment_dir=path.parent)          # edgelab.lab.Lab per variant
    result = await run_experiment(..., lab_factory=lab_factory, load_factory=locust_load)

`EmbeddedLab` brings up the experiment's lab file (the shipped default unless it names one),
with the variant's edge overlay on every POP, and writes `lab.json` into the variant's
directory for the report. `locust_load` turns the lab's endpoints and the experiment's `load`
section into a Locust targets file and shape, and runs `edgelab.loadgen.surge.run_surge`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from edgelab.chaos.context import LabView, ProcessView
from edgelab.chaos.model import Experiment
from edgelab.errors import ConfigError
from edgelab.loadgen.surge import Progress, SurgeHandle, run_surge


def _lab_file(experiment: Experiment, experiment_dir: Path | None) -> Path | None:
    if experiment.lab.file == "default":
        return None
    path = Path(experiment.lab.file)
    return path if path.is_absolute() or experiment_dir is None else experiment_dir / path


class EmbeddedLab:
    """A fresh `edgelab.lab.Lab` per variant, as the runner's lab factory."""

    def __init__(
        self,
        experiment_dir: Path | None = None,
        origin_url: str | None = None,
        on_event: Callable[[Any], None] | None = None,
    ) -> None:
        self.experiment_dir = experiment_dir
        self.origin_url = origin_url
        self.on_event = on_event

    @contextlib.asynccontextmanager
    async def __call__(self, experiment: Experiment, vdir: Path) -> AsyncIterator[LabView]:
        from edgelab.lab.model import load_lab, overlay
        from edgelab.lab.supervisor import Lab

        path = _lab_file(experiment, self.experiment_dir)
        labfile = overlay(
            load_lab(path), experiment.lab.overrides, experiment.lab.edge, source="experiment lab"
        )
        lab = Lab(
            labfile, vdir / "lab", lab_file=path, origin_url=self.origin_url, on_event=self.on_event
        )
        async with lab:
            state = lab.state
            processes = {
                name: ProcessView(name, p.role, dict(p.addresses), cdn=p.cdn, pid=p.pid)
                for name, p in state.processes.items()
                if p.status == "up"
            }
            view = LabView(
                processes,
                extra={"endpoints": state.endpoints.model_dump(), "state": state, "pid": lab.pid},
            )
            origin = labfile.origins[0].profile.capacity
            (vdir / "lab.json").write_text(
                json.dumps(
                    {
                        "name": labfile.name,
                        "processes": {
                            n: {"role": p.role, "cdn": p.cdn, "addresses": dict(p.addresses)}
                            for n, p in processes.items()
                        },
                        "endpoints": state.endpoints.model_dump(),
                        "origin": {
                            "workers": origin.workers,
                            "queue": origin.queue,
                            "external": self.origin_url is not None,
                        },
                    },
                    indent=2,
                )
            )
            yield view


def targets_for(experiment: Experiment, lab: LabView) -> dict[str, Any]:
    """The Locust targets file (edgelab.loadgen.targets): the lab's own (CDN A and B, the
    direct origin link, the steering service the bypass means) plus the experiment's clients."""
    from edgelab.lab.state import locust_targets

    load = experiment.load
    data = locust_targets(lab.extra["state"], load.bypass)
    if data is None:
        raise ConfigError("experiment lab: the load needs a CDN named 'a' (cdns: [{name: a, ...}])")
    return {**data, "retry": load.retry, "mix": load.mix, "seed": load.seed}


class SurgeLoad:
    """A running Locust surge as the runner's `LoadHandle` (its blocking calls in a thread)."""

    def __init__(self, handle: SurgeHandle) -> None:
        self.handle = handle
        self.started_at: float | None = None
        """Epoch seconds of the load's t=0, once known."""

    async def started(self) -> None:
        """Return once Locust's load has really begun, and remember when (`started_at`).

        Locust takes seconds to import and spawn on a busy machine; lab time 0 is the load's
        own t=0, not the call that launched it.
        """
        self.started_at = await asyncio.to_thread(self.handle.wait_started)

    async def wait(self) -> None:
        await asyncio.to_thread(self.handle.wait)

    async def stop(self) -> None:
        await asyncio.to_thread(self.handle.stop)


def locust_load_factory(
    on_progress: Callable[[Progress], None] | None = None,
) -> Callable[[Experiment, LabView, Path], Any]:
    """The runner's load factory: Locust, headless, writing into the variant's directory."""

    async def start(experiment: Experiment, lab: LabView, vdir: Path) -> SurgeLoad:
        from edgelab.loadgen.shapes import shape_from_data
        from edgelab.loadgen.targets import parse_targets

        targets = parse_targets(targets_for(experiment, lab), "experiment load")
        shape = shape_from_data(experiment.load.shape, "experiment load.shape")
        handle = await asyncio.to_thread(
            run_surge,
            targets,
            shape,
            experiment.load.duration_s,
            vdir,
            workers=experiment.load.workers,
            on_progress=on_progress,
        )
        load = SurgeLoad(handle)
        try:
            await load.started()
        except BaseException:
            await load.stop()
            raise
        return load

    return start
