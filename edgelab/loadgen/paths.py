"""Which path each request attempt takes: the client half of every bypass, as pure logic.

    chooser = PathChooser(targets, rng=random.Random(7))
    if chooser.needs_resolve(now):                       # dns-failover / multi-cdn only
        chooser.resolved(Answer("origin", ("http://127.0.0.1:8081",), ttl_s=5), now)
    route = chooser.first(now)                           # Route(path="origin-direct", url=...)
    step = chooser.next_attempt(attempts, now)           # a retry or direct fallback, or None

The chooser holds what a real client holds: the POP it sticks to and, for steered modes, a
resolver cache. A steering answer is used until its TTL runs out (as a resolver caches a DNS
answer); when steering cannot be reached the last answer keeps being used and is asked again
after `STALE_RETRY_S` (serve-stale, RFC 8767). So detection time is measured end to end: health
checks x failures on the steering side, plus up to one TTL here. I/O lives in loadtests/bypass.py.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edgelab.loadgen.targets import Targets

PathLabel = Literal["edge-a", "edge-b", "origin-direct"]
"""The `path` column of `requests.csv`: which door an attempt went through."""

TARGET_PATHS: dict[str, PathLabel] = {
    "cdn-a": "edge-a",
    "cdn-b": "edge-b",
    "origin": "origin-direct",
}
"""Steering target names the client understands, and the path each one means."""

STALE_RETRY_S = 1.0
"""After a failed resolve, keep the last answer and ask steering again after this long."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where one attempt goes: its path label and the base URL to send it to."""

    path: PathLabel
    url: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A steering answer: the chosen target, its usable URLs and how long to cache it."""

    target: str
    urls: tuple[str, ...]
    ttl_s: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt made for a request: where it went and the status it got (0 = no answer)."""

    path: PathLabel
    status: int


@dataclass(frozen=True, slots=True)
class NextAttempt:
    """What to do after a failed attempt: wait `delay_s`, then try `route`."""

    route: Route
    delay_s: float
    kind: Literal["retry", "direct"]


class PathChooser:
    """One user's view of where to send requests; time and randomness are passed in."""

    def __init__(self, targets: Targets, rng: random.Random) -> None:
        self.targets = targets
        self.rng = rng
        self.pop_a = rng.choice(targets.cdn_a)
        """The CDN A POP this user sticks to (clients keep a POP, as DNS round robin gives)."""
        self.pop_b = rng.choice(targets.cdn_b) if targets.cdn_b else None
        self._answer: Answer | None = None
        self._answer_url: str | None = None
        self._expires_at = float("-inf")

    @property
    def steered(self) -> bool:
        """True when the bypass asks steering where to go."""
        return self.targets.bypass in ("dns-failover", "multi-cdn")

    def needs_resolve(self, now: float) -> bool:
        """A steered user asks steering when it has no answer or the answer's TTL has run out."""
        return self.steered and now >= self._expires_at

    def resolved(self, answer: Answer, now: float) -> None:
        """Cache `answer` for its TTL; keep the current URL if the answer still contains it."""
        if self._answer_url not in answer.urls:
            self._answer_url = self.rng.choice(answer.urls) if answer.urls else None
        self._answer = answer
        self._expires_at = now + answer.ttl_s

    def resolve_failed(self, now: float) -> None:
        """Steering did not answer: keep the last answer (or none) and ask again soon."""
        self._expires_at = now + STALE_RETRY_S

    @property
    def answer(self) -> Answer | None:
        """The cached steering answer, if any (also when stale)."""
        return self._answer

    def first(self, now: float) -> Route:
        """The route of a request's first attempt."""
        if self.steered and self._answer is not None and self._answer_url is not None:
            return Route(self._path_of(self._answer.target, self._answer_url), self._answer_url)
        # Unsteered, or steered before any answer: the primary, CDN A.
        return Route("edge-a", self.pop_a)

    def next_attempt(self, attempts: Sequence[Attempt], now: float) -> NextAttempt | None:
        """After the last of `attempts` failed, the next attempt to make, or None to give up.

        `retry-direct` falls back to the origin once per request, at once, on a 5xx or no
        answer from an edge. The retry policy then allows `max_retries` more tries, each on
        the route a first attempt would take now (so a steered client follows a new answer).
        """
        last = attempts[-1]
        went_direct = any(a.path == "origin-direct" for a in attempts)
        if (
            self.targets.bypass == "retry-direct"
            and self.targets.origin is not None
            and last.path != "origin-direct"
            and not went_direct
            and (last.status == 0 or last.status >= 500)
        ):
            return NextAttempt(Route("origin-direct", self.targets.origin), 0.0, "direct")
        policy = self.targets.retry
        direct_fallbacks = 1 if went_direct and self.targets.bypass == "retry-direct" else 0
        retries_done = len(attempts) - 1 - direct_fallbacks
        if policy.should_retry(last.status) and retries_done < policy.max_retries:
            return NextAttempt(self.first(now), policy.delay_s(retries_done + 1, self.rng), "retry")
        return None

    def _path_of(self, target: str, url: str) -> PathLabel:
        if url in self.targets.cdn_a:
            return "edge-a"
        if url in self.targets.cdn_b:
            return "edge-b"
        if url == self.targets.origin:
            return "origin-direct"
        return TARGET_PATHS.get(target, "edge-a")
