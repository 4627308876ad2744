"""The origin's capacity model: service-time draws (pure) and the worker/queue gate (asyncio).

    gate = CapacityGate(workers=8, queue=64, queue_timeout_s=1.0)
    async with gate.slot():            # raises Shed("queue full" | "queue timeout")
        await asyncio.sleep(service_time.sample(rng))

A surge that the CDN no longer absorbs fills the workers, then the queue; past that the origin
sheds with 503 at once, and requests that wait too long get 503 too. Nothing waits forever.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from edgelab.origin.profile import ServiceTime

Z_99 = 2.3263478740408408
"""The standard normal quantile at 0.99."""


@dataclass(frozen=True)
class LognormalParams:
    mu: float
    sigma: float


def fit_lognormal(mean_s: float, p99_s: float) -> LognormalParams:
    """Lognormal (mu, sigma) with the given mean and 99th percentile.

    mean = exp(mu + sigma^2/2) and p99 = exp(mu + z*sigma), so
    sigma^2/2 - z*sigma + ln(p99/mean) = 0; the smaller root keeps the tail sane. When p99 is too
    far above the mean for a lognormal to reach, sigma is capped at z (the widest it can be).
    """
    if mean_s <= 0:
        return LognormalParams(mu=-math.inf, sigma=0.0)
    gap = math.log(max(p99_s, mean_s) / mean_s)
    disc = Z_99 * Z_99 - 2.0 * gap
    sigma = Z_99 - math.sqrt(disc) if disc > 0 else Z_99
    return LognormalParams(mu=math.log(mean_s) - sigma * sigma / 2.0, sigma=sigma)


@dataclass(frozen=True)
class ServiceTimeModel:
    """Draws service times in seconds from the profile's distribution."""

    distribution: str
    mean_s: float
    params: LognormalParams

    @classmethod
    def from_profile(cls, st: ServiceTime) -> ServiceTimeModel:
        mean_s, p99_s = st.mean_ms / 1000.0, st.p99_ms / 1000.0
        return cls(st.distribution, mean_s, fit_lognormal(mean_s, p99_s))

    def sample(self, rng: random.Random) -> float:
        if self.distribution == "fixed" or self.mean_s <= 0:
            return self.mean_s
        return rng.lognormvariate(self.params.mu, self.params.sigma)


class Shed(Exception):
    """The origin refused a request for lack of capacity; `reason` is a metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CapacityGate:
    """N workers and a bounded queue with a wait limit."""

    def __init__(self, workers: int, queue: int, queue_timeout_s: float) -> None:
        self.workers = workers
        self.queue_limit = queue
        self.queue_timeout_s = queue_timeout_s
        self._free = asyncio.Semaphore(workers)
        self.busy = 0
        """Requests holding a worker now."""
        self.waiting = 0
        """Requests queued for a worker now."""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a worker for the block; raises Shed when the queue is full or the wait too long."""
        if self._free.locked():
            if self.waiting >= self.queue_limit:
                raise Shed("queue_full")
            self.waiting += 1
            try:
                await asyncio.wait_for(self._free.acquire(), self.queue_timeout_s)
            except TimeoutError:
                raise Shed("queue_timeout") from None
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1
            self._free.release()
