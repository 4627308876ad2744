from __future__ import annotations

import asyncio
import math
import random
import statistics

import pytest

from edgelab.origin.capacity import CapacityGate, ServiceTimeModel, Shed, fit_lognormal
from edgelab.origin.profile import ServiceTime


@pytest.mark.parametrize(("mean", "p99"), [(0.02, 0.08), (0.01, 0.011), (0.1, 1.0)])
def test_lognormal_fit_reproduces_mean_and_p99(mean: float, p99: float) -> None:
    params = fit_lognormal(mean, p99)
    assert math.exp(params.mu + params.sigma**2 / 2) == pytest.approx(mean, rel=1e-9)
    assert math.exp(params.mu + 2.3263478740408408 * params.sigma) == pytest.approx(p99, rel=1e-9)


def test_lognormal_samples_match_the_profile() -> None:
    model = ServiceTimeModel.from_profile(
        ServiceTime(distribution="lognormal", mean_ms=20, p99_ms=80)
    )
    rng = random.Random(7)
    draws = sorted(model.sample(rng) for _ in range(40_000))
    assert statistics.fmean(draws) == pytest.approx(0.020, rel=0.05)
    assert draws[int(0.99 * len(draws))] == pytest.approx(0.080, rel=0.10)


def test_same_seed_same_draws() -> None:
    model = ServiceTimeModel.from_profile(ServiceTime())
    a = [model.sample(random.Random(3)) for _ in range(3)]
    b = [model.sample(random.Random(3)) for _ in range(3)]
    assert a == b


def test_fixed_distribution_is_fixed() -> None:
    model = ServiceTimeModel.from_profile(ServiceTime(distribution="fixed", mean_ms=5))
    assert {model.sample(random.Random(i)) for i in range(5)} == {0.005}


async def test_gate_sheds_when_queue_is_full() -> None:
    gate = CapacityGate(workers=1, queue=1, queue_timeout_s=5)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    waiter = asyncio.create_task(hold())
    while gate.waiting < 1:  # noqa: ASYNC110 - yield turns until the waiter has queued; no timing involved
        await asyncio.sleep(0)
    with pytest.raises(Shed) as e:
        async with gate.slot():
            pass
    assert e.value.reason == "queue_full"
    release.set()
    await asyncio.gather(holder, waiter)
    assert gate.busy == 0 and gate.waiting == 0


async def test_gate_times_out_queued_requests() -> None:
    gate = CapacityGate(workers=1, queue=5, queue_timeout_s=0.05)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    with pytest.raises(Shed) as e:
        async with gate.slot():
            pass
    assert e.value.reason == "queue_timeout"
    assert gate.waiting == 0
    release.set()
    await holder
