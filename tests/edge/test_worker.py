"""The worker thread: results and errors come back to the awaiting coroutine, in order, and a
job cancelled before the thread took it never runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from edgelab.edge.worker import Worker


async def test_a_job_runs_in_the_thread_and_its_result_comes_back() -> None:
    worker = Worker("test-worker")
    assert await worker.run(threading.current_thread) is not threading.current_thread()
    assert await worker.run(sum, [1, 2, 3]) == 6


async def test_what_a_job_raises_is_raised_by_await_and_the_thread_goes_on() -> None:
    worker = Worker("test-worker")
    with pytest.raises(ZeroDivisionError):
        await worker.run(divmod, 1, 0)
    assert await worker.run(divmod, 7, 2) == (3, 1)


async def test_jobs_run_in_order_and_a_cancelled_one_is_skipped() -> None:
    worker = Worker("test-worker")
    release = threading.Event()
    ran: list[int] = []
    busy = worker.run(release.wait)
    first = worker.run(ran.append, 1)
    dropped = worker.run(ran.append, 2)
    last = worker.run(ran.append, 3)
    dropped.cancel()  # its client went away while it was queued
    release.set()
    await busy
    await first
    await last
    assert ran == [1, 3]
    with pytest.raises(asyncio.CancelledError):
        await dropped
