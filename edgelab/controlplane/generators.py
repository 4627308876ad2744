"""Re-create an artifact every T seconds from a recipe; each generation bad with probability p.

    recipe = Recipe(spec, base=content)                 # pure: spec + seeded rng
    gen = recipe.next(elapsed_s=12.0)                   # Generation(content, bad, mutation)
    task = GeneratorTask(recipe, push=..., clock=loop.time)   # the loop that pushes them
    task.start(); ...; await task.stop()

This is how 2025-11-18 flapped: the bot feature file was regenerated every five minutes, and a
run was bad only when its query hit a database node that already had the permission change, so
the fleet alternated between good and bad files until every node was changed
(../shared/incidents.md #1). `bad_probability` is that chance; `bad_probability_end` and
`ramp_s` let it rise as the change rolls through the cluster. One seed gives one sequence.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from edgelab.controlplane.model import GeneratorSpec
from edgelab.controlplane.mutations import mutate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    content: bytes
    bad: bool
    mutation: str | None


class Recipe:
    """The pure part: which generation is bad (seeded rng) and what it contains."""

    def __init__(self, spec: GeneratorSpec, base: bytes) -> None:
        self.spec = spec
        self.base = base
        self.rng = random.Random(spec.seed)
        self._bad_content = mutate(base, spec.mutation)

    def probability(self, elapsed_s: float) -> float:
        s = self.spec
        if s.bad_probability_end is None or s.ramp_s <= 0:
            return s.bad_probability
        f = min(1.0, max(0.0, elapsed_s / s.ramp_s))
        return s.bad_probability + (s.bad_probability_end - s.bad_probability) * f

    def next(self, elapsed_s: float) -> Generation:
        bad = self.rng.random() < self.probability(elapsed_s)
        if bad:
            return Generation(self._bad_content, True, self.spec.mutation)
        return Generation(self.base, False, None)


Push = Callable[[Generation], int]
"""Stores one generation and returns its version."""


@dataclass
class GeneratorStats:
    generations: int = 0
    bad: int = 0
    last_version: int | None = None
    last_bad: bool | None = None
    history: list[tuple[int, bool]] = field(default_factory=list)
    """(version, bad) of the most recent generations, newest last (bounded)."""


class GeneratorTask:
    """Runs a recipe: one generation at start, then one every `period_s`, until stopped."""

    HISTORY = 200

    def __init__(self, recipe: Recipe, push: Push, clock: Callable[[], float]) -> None:
        self.recipe = recipe
        self.push = push
        self.clock = clock
        self.stats = GeneratorStats()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"generator {self.recipe.spec.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        spec = self.recipe.spec
        started = self.clock()
        next_at = started
        while spec.max_generations is None or self.stats.generations < spec.max_generations:
            gen = self.recipe.next(self.clock() - started)
            try:
                version = self.push(gen)
            except Exception:  # a failed write must not kill the flapping; log and go on
                logger.exception("generator %s: push failed", spec.name)
            else:
                st = self.stats
                st.generations += 1
                st.bad += gen.bad
                st.last_version, st.last_bad = version, gen.bad
                st.history = [*st.history[-(self.HISTORY - 1) :], (version, gen.bad)]
                logger.info(
                    "generator %s: %s v%d", spec.name, "BAD" if gen.bad else "good", version
                )
            # Fixed cadence (not drifting with push time), without a burst after a stall.
            next_at = max(next_at + spec.period_s, self.clock())
            await asyncio.sleep(next_at - self.clock())

    def describe(self) -> dict[str, object]:
        st = self.stats
        return {
            **self.recipe.spec.model_dump(mode="json"),
            "running": self.running,
            "generations": st.generations,
            "bad": st.bad,
            "last_version": st.last_version,
            "last_bad": st.last_bad,
            "recent": [{"version": v, "bad": b} for v, b in st.history[-20:]],
        }
