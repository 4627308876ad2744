"""Does a probe's value satisfy its tolerance? Pure.

within_tolerance(0.97, Tolerance(min=0.95))   # True
"""

from __future__ import annotations

from typing import Any

from edgelab.chaos.model import Tolerance


def within_tolerance(value: Any, tolerance: Tolerance | None) -> bool:
    if tolerance is None:
        return True
    if tolerance.equals is not None and value != tolerance.equals:
        return False
    if tolerance.min is not None or tolerance.max is not None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if tolerance.min is not None and value < tolerance.min:
            return False
        if tolerance.max is not None and value > tolerance.max:
            return False
    return True
