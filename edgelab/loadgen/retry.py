"""Client retry policy: none, immediate, or exponential backoff with full jitter.

    policy = RetryPolicy(mode="backoff", max_retries=3, base_s=0.1, cap_s=2.0)
    policy.should_retry(503)                      # True
    policy.delay_s(retry=2, rng=random.Random(1)) # uniform in [0, 0.2]

This is how real clients retry, so a "retry storm" is a knob: more retries and no backoff
multiply the load an origin sees when it starts failing. The jitter is AWS's "full jitter"
(sleep = uniform(0, min(cap, base * 2**(n-1)))), which spreads retries out instead of
synchronising them.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RetryMode = Literal["none", "immediate", "backoff"]


class RetryPolicy(BaseModel):
    """How a user retries a failed request; the targets file's `retry` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: RetryMode = "none"
    """`none`: one try; `immediate`: retry at once; `backoff`: exponential delay with jitter."""
    max_retries: int = Field(2, ge=0, le=20)
    """Retries after the first attempt (ignored for `none`)."""
    base_s: float = Field(0.1, ge=0.0)
    """Backoff before the first retry's ceiling; doubles with each retry."""
    cap_s: float = Field(2.0, ge=0.0)
    """The ceiling no backoff delay exceeds."""
    retry_on: frozenset[int] = frozenset({0, 500, 502, 503, 504})
    """Statuses worth another try; 0 is a connection error or timeout (no answer at all)."""

    def should_retry(self, status: int) -> bool:
        """Whether an attempt that got `status` is worth retrying under this policy."""
        return self.mode != "none" and status in self.retry_on

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        if self.mode != "backoff":
            return 0.0
        ceiling = min(self.cap_s, self.base_s * 2 ** (retry - 1))
        return rng.uniform(0.0, ceiling)
