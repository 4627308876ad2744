from __future__ import annotations

from dataclasses import dataclass

import pytest

from edgelab.controlplane.rollout import Target, desired_for, includes, resolve

POPS = ["ams", "fra", "lhr", "mad", "waw", "cdg", "arn", "vie", "zrh", "dub"]


@pytest.mark.parametrize(
    ("fraction", "count"), [(0.0, 0), (0.01, 1), (0.1, 1), (0.34, 3), (0.5, 5), (0.99, 10)]
)
def test_a_fraction_picks_that_share_of_the_known_pops(fraction: float, count: int) -> None:
    selected = resolve(Target(fraction=fraction), POPS, salt="bot-features:3")
    assert selected is not None and len(selected) == count
    assert set(selected) <= set(POPS)


def test_the_choice_is_stable_per_push_and_differs_between_pushes() -> None:
    a = resolve(Target(fraction=0.5), POPS, "k:1")
    assert a == resolve(Target(fraction=0.5), list(reversed(POPS)), "k:1")
    assert any(resolve(Target(fraction=0.5), POPS, f"k:{n}") != a for n in range(2, 10))


def test_all_and_lists() -> None:
    assert resolve(Target(), POPS, "s") is None
    assert resolve(Target(fraction=1.0), POPS, "s") is None
    assert resolve(Target(pops=("fra", "ams", "fra")), POPS, "s") == ("ams", "fra")


def test_late_joiners() -> None:
    listed = Target(pops=("ams",))
    assert not includes(listed, ("ams",), tuple(POPS), "new", "s")
    half = Target(fraction=0.5)
    joined = [p for p in (f"new-{i}" for i in range(400)) if includes(half, (), (), p, "s")]
    assert 150 < len(joined) < 250  # about half of the POPs that join later
    assert not includes(half, ("ams",), ("ams", "fra"), "fra", "s")
    assert includes(Target(), None, (), "anyone", "s")


@dataclass
class V:
    version: int
    pops: tuple[str, ...] | None

    def reaches(self, pop: str) -> bool:
        return self.pops is None or pop in self.pops


def test_a_pop_runs_the_newest_version_that_reached_it() -> None:
    history = [V(1, None), V(2, ("fra",)), V(3, ("ams",))]
    assert desired_for(history, "fra") == history[1]
    assert desired_for(history, "lhr") == history[0]
    assert desired_for(history[1:], "lhr") is None
