"""Pure choice of the answer to `GET /resolve?service=...`.

    answer = choose("www", targets, is_up=lambda url: states[url].status == "up", ttl_s=5)
    answer.target, answer.urls, answer.healthy      # "cdn-b", ("http://...",), True

The first target (in priority order) with at least one URL up answers, listing its URLs that
are up. When every target is down the first one answers with all its URLs and `healthy:
false`: as Route 53 does when all records are unhealthy, steering never answers "nowhere".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from edgelab.steering.config import Target


@dataclass(frozen=True, slots=True)
class Answer:
    service: str
    target: str
    urls: tuple[str, ...]
    ttl_s: float
    healthy: bool

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["urls"] = list(self.urls)
        return data


def choose(
    service: str, targets: Sequence[Target], is_up: Callable[[str], bool], ttl_s: float
) -> Answer:
    """The answer for `service` given which URLs are up; `targets` must not be empty."""
    for target in targets:
        up = tuple(u for u in target.urls if is_up(u))
        if up:
            return Answer(service, target.name, up, ttl_s, True)
    first = targets[0]
    return Answer(service, first.name, tuple(first.urls), ttl_s, False)
