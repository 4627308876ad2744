from __future__ import annotations

import math

import pytest

from edgelab.policy.bot.ratelimit import ClientRates


def test_a_steady_client_converges_to_its_rate() -> None:
    rates = ClientRates(window_s=10.0)
    rps = 0.0
    for i in range(2000):  # 20 requests/s for 100 s of injected time
        rps = rates.hit("a", now=i / 20)
    assert rps == pytest.approx(20.0, rel=0.05)


def test_the_rate_decays_without_requests_and_clients_are_apart() -> None:
    rates = ClientRates(window_s=10.0)
    for i in range(100):
        rates.hit("a", now=i * 0.01)
    assert rates.hit("b", now=1.0) == pytest.approx(0.1)
    before = rates.rate("a", now=1.0)
    assert rates.rate("a", now=11.0) == pytest.approx(before * math.exp(-1), rel=1e-3)
    assert rates.rate("nobody", now=5.0) == 0.0


def test_memory_is_bounded_least_recently_seen_goes_first() -> None:
    rates = ClientRates(window_s=1.0, max_clients=2)
    rates.hit("a", 0.0)
    rates.hit("b", 0.0)
    rates.hit("a", 0.1)
    rates.hit("c", 0.2)
    assert len(rates) == 2
    assert rates.rate("b", 0.2) == 0.0 and rates.rate("a", 0.2) > 0


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        ClientRates(window_s=0)
