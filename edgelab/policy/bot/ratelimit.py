"""Per-client request rate, with the clock passed in (no time of its own).

    rates = ClientRates(window_s=10.0, max_clients=100_000)
    rps = rates.hit("127.0.0.1|curl/8.5.0", now=loop.time())   # this client's recent rate

Each client holds one exponentially decaying counter: on every hit the count decays by
`exp(-dt / window_s)` and gains one, so `count / window_s` estimates the requests per second over
roughly the last window. Memory is bounded: past `max_clients` keys the least recently seen one
is dropped (dicts keep insertion order; a hit moves its key to the end).
"""

from __future__ import annotations

import math


class ClientRates:
    def __init__(self, window_s: float = 10.0, max_clients: int = 100_000) -> None:
        if window_s <= 0 or max_clients <= 0:
            raise ValueError("window_s and max_clients must be positive")
        self.window_s = window_s
        self.max_clients = max_clients
        self._state: dict[str, tuple[float, float]] = {}

    def hit(self, key: str, now: float) -> float:
        """Count one request from `key` at `now` (seconds); return its rate in requests/s."""
        state = self._state.pop(key, None)
        if state is None:
            count = 1.0
            if len(self._state) >= self.max_clients:
                del self._state[next(iter(self._state))]
        else:
            last, prev = state
            dt = now - last
            count = (prev * math.exp(-dt / self.window_s) if dt > 0 else prev) + 1.0
        self._state[key] = (now, count)
        return count / self.window_s

    def rate(self, key: str, now: float) -> float:
        """The rate of `key` at `now` without counting a request."""
        state = self._state.get(key)
        if state is None:
            return 0.0
        last, count = state
        return count * math.exp(-max(0.0, now - last) / self.window_s) / self.window_s

    def __len__(self) -> int:
        return len(self._state)
