"""Which POPs a push reaches: all, a fraction, or a list. Pure: no clock, no I/O.

    target = Target(fraction=0.5)
    selected = resolve(target, known_pops=["ams", "fra", "lhr"], salt="bot-features:7")
    includes(target, selected, considered=("ams", "fra", "lhr"), pop="ams", salt=...)
    desired_for([v1, v2, v3], pop="ams")   # the newest version that reaches "ams"

A fraction is resolved when the push is made, over the POPs known then: they are ranked by a
stable hash of (salt, pop) and the first `round(fraction * n)` (at least one) are chosen, so a
0.34 rollout over three POPs reaches exactly one. A POP that subscribes later is in when its
hash falls under the fraction, so the share holds as the fleet grows. A POP outside a push keeps
the newest earlier version that did reach it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class Target:
    """All POPs (both fields None), a fraction of them, or a list of names."""

    fraction: float | None = None
    pops: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.pops is not None:
            return "pops " + ",".join(self.pops)
        if self.fraction is not None:
            return f"fraction {self.fraction:g}"
        return "all"


ALL = Target()


def pop_hash(salt: str, pop: str) -> float:
    """A stable number in [0, 1) for this pop and push."""
    digest = hashlib.sha256(f"{salt}\0{pop}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def resolve(target: Target, known_pops: Iterable[str], salt: str) -> tuple[str, ...] | None:
    """The POPs chosen at push time; None = every POP, now and later."""
    if target.pops is not None:
        return tuple(sorted(set(target.pops)))
    if target.fraction is None or target.fraction >= 1.0:
        return None
    pops = sorted(set(known_pops), key=lambda p: (pop_hash(salt, p), p))
    if target.fraction <= 0 or not pops:
        return ()
    n = max(1, int(target.fraction * len(pops) + 0.5))
    return tuple(sorted(pops[:n]))


def includes(
    target: Target,
    selected: tuple[str, ...] | None,
    considered: tuple[str, ...],
    pop: str,
    salt: str,
) -> bool:
    """Whether a push (resolved to `selected` over `considered`) reaches `pop`."""
    if selected is None:
        return True
    if pop in selected:
        return True
    if target.pops is not None or pop in considered:
        return False
    return target.fraction is not None and pop_hash(salt, pop) < target.fraction


class Rolled(Protocol):
    @property
    def version(self) -> int: ...

    def reaches(self, pop: str) -> bool: ...


V = TypeVar("V", bound=Rolled)


def desired_for(versions: Sequence[V], pop: str) -> V | None:
    """The newest version (by position: oldest first) that reaches `pop`, if any."""
    for v in reversed(versions):
        if v.reaches(pop):
            return v
    return None
