"""requests.csv from Locust's request events: buffered, and gathered on the master.

    recorder = Recorder.attach(environment, run_dir)   # from the locustfile's init listener
    recorder.on_request(**request_event_kwargs)          # from its request listener

Standalone: rows are buffered and written to `run_dir/requests.csv` each second. With workers:
each worker buffers its rows and sends them to the master in batches (a Locust custom message),
the last batch when its users stop, before it reports itself stopped; the master writes them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from edgelab.loadgen.records import RequestsCsv, Row

logger = logging.getLogger(__name__)

MESSAGE = "edgelab_requests"
"""Custom message type carrying a batch of rows from a worker to the master."""
FLUSH_INTERVAL_S = 1.0


class Recorder:
    """Turns request events into requests.csv rows (or batches for the master)."""

    def __init__(self, environment: Environment, out: RequestsCsv | None) -> None:
        self.environment = environment
        self.out = out
        self.pending: list[Row] = []
        self._loop: gevent.Greenlet | None = None

    @classmethod
    def attach(cls, environment: Environment, run_dir: Path | None) -> Recorder:
        """Set up for this process's role; a worker needs no run directory of its own."""
        runner = environment.runner
        is_worker = isinstance(runner, WorkerRunner)
        out = None
        if run_dir is not None and not is_worker:
            out = RequestsCsv(run_dir / "requests.csv")
        recorder = cls(environment, out)
        if isinstance(runner, MasterRunner):
            runner.register_message(MESSAGE, recorder._on_batch)
        events = environment.events
        events.test_stop.add_listener(lambda **_: recorder.flush())
        events.quitting.add_listener(lambda **_: recorder.flush())
        # Closed on `quit`, which Locust fires after telling workers to quit and giving them
        # time to report, so a master still writes the workers' last batches.
        events.quit.add_listener(lambda **_: recorder.close())
        recorder._loop = gevent.spawn(recorder._flush_forever)
        return recorder

    def on_request(
        self,
        context: dict[str, Any],
        response_time: float,
        response: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        """One attempt; events without a route (steering lookups) are not rows."""
        route = context.get("route")
        if route is None:
            return
        status = int(getattr(response, "status_code", 0) or 0)
        self.pending.append(
            (
                float(start_time or 0.0),
                str(context.get("user", "")),
                str(route),
                str(context.get("path", "")),
                status,
                float(response_time or 0.0),
                int(context.get("attack", 0)),
                int(context.get("attempt", 1)),
                int(context.get("final", 1)),
            )
        )

    def flush(self) -> None:
        """Write (standalone, master) or send to the master (worker) what is pending."""
        rows, self.pending = self.pending, []
        runner = self.environment.runner
        if rows and isinstance(runner, WorkerRunner):
            runner.send_message(MESSAGE, rows)  # type: ignore[arg-type]  # any msgpack value
        elif self.out is not None:
            self.out.add_rows(rows)
            self.out.flush()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)
            self._loop = None
        self.flush()
        if self.out is not None:
            self.out.close()
            logger.info("requests.csv: %d rows in %s", self.out.written, self.out.path)

    def _on_batch(self, environment: Environment, msg: Any, **_: Any) -> None:
        if self.out is not None:
            self.out.add_rows(tuple(row) for row in msg.data)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()
