from __future__ import annotations

import pytest

from edgelab.controlplane.generators import Recipe
from edgelab.controlplane.model import GeneratorSpec
from edgelab.controlplane.mutations import mutate
from edgelab.edge.stages.bot import default_feature_file

BASE = default_feature_file()


def spec(**kw: object) -> GeneratorSpec:
    return GeneratorSpec.model_validate({"name": "g", "period_s": 1, **kw})


def test_one_seed_one_sequence_and_bad_ones_carry_the_mutation() -> None:
    runs = [[Recipe(spec(seed=3), BASE).next(0).bad for _ in range(1)] for _ in range(2)]
    a, b = Recipe(spec(seed=3), BASE), Recipe(spec(seed=3), BASE)
    seq = [a.next(0) for _ in range(50)]
    assert [g.bad for g in seq] == [b.next(0).bad for _ in range(50)]
    assert runs[0] == runs[1]
    assert 10 < sum(g.bad for g in seq) < 40
    for g in seq:
        assert g.content == (mutate(BASE, "duplicate-rows") if g.bad else BASE)
        assert g.mutation == ("duplicate-rows" if g.bad else None)


@pytest.mark.parametrize(("p", "bad"), [(0.0, 0), (1.0, 20)])
def test_probability_bounds(p: float, bad: int) -> None:
    r = Recipe(spec(bad_probability=p, mutation="truncate"), BASE)
    assert sum(r.next(0).bad for _ in range(20)) == bad


def test_the_bad_probability_ramps_then_stays() -> None:
    r = Recipe(spec(bad_probability=0.1, bad_probability_end=0.9, ramp_s=100), BASE)
    assert [r.probability(t) for t in (0, 50, 100, 500)] == pytest.approx([0.1, 0.5, 0.9, 0.9])
