"""Run Locust headless as subprocesses into a run directory, watch it, stop it cleanly.

    handle = run_surge(targets, parse_shape("steady:users=50"), duration_s=30,
                       out_dir=Path("runs/x/variants/none"), workers=2,
                       on_progress=lambda p: print(p.users, p.rps))
    result = handle.wait()        # or handle.stop() to end it early
    result.cpu_warning            # True if a Locust process passed 80% CPU

Writes into `out_dir`: `targets.json` and `shape.json` (what was run), `requests.csv` (one row
per attempt), Locust's `locust_stats.csv`, `locust_stats_history.csv` (full history),
`locust_failures.csv`, `locust.json`, `locust.html`, `locust.log` (and `locust-worker-N.log`),
and `surge.json` (exit code, duration, peak Locust CPU, whether it passed the warning level).

With `workers=N` it starts one master and N local workers on a free port (the same master/
worker mode spreads a run over several machines: see README "Load tests"). Request failures
are data, not errors: Locust runs with `--exit-code-on-error 0`, so a non-zero exit code means
Locust itself failed. The children get SIGTERM if this process dies (Linux), and `stop()`
interrupts the master first (it stops its workers and writes its reports), then the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import psutil

import edgelab
from edgelab.errors import ConfigError, EdgelabError
from edgelab.loadgen.records import read_load_start
from edgelab.loadgen.shapes import Shape
from edgelab.loadgen.targets import Targets

logger = logging.getLogger(__name__)

ROOT = Path(edgelab.__file__).resolve().parents[1]
"""The checkout edgelab runs from (it holds loadtests/)."""
DEFAULT_LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
CPU_WARN_PERCENT = 80.0
"""A Locust process above this share of one core may be limiting the load (Locust: 90%)."""
START_GRACE_S = 60.0
"""A run still going this long after its shape's end is stopped (a hung Locust never hangs us)."""


class SurgeError(EdgelabError, RuntimeError):
    """Locust could not run (bad locustfile, bad arguments, crash): not a request failure."""


@dataclass(frozen=True, slots=True)
class Progress:
    """One look at a running surge (from Locust's stats history, about once a second)."""

    elapsed_s: float
    users: int
    rps: float
    failures_per_s: float
    requests: int
    failures: int
    cpu_percent: float
    """The busiest Locust process's CPU, in percent of one core."""
    cpu_s: float = 0.0
    """CPU seconds all Locust processes have used so far (user + system)."""


@dataclass(frozen=True, slots=True)
class SurgeResult:
    out_dir: Path
    exit_code: int
    """Locust master's exit code: 0 unless Locust itself failed."""
    duration_s: float
    cpu_max_percent: float
    cpu_warning: bool
    """True when a Locust process passed CPU_WARN_PERCENT: the load generator may have limited
    the load, so a report should flag the run."""
    started_at: float | None
    """The load's t=0 (epoch seconds): when Locust started its first users; None if never."""
    stopped_early: bool
    workers: int

    @property
    def requests_csv(self) -> Path:
        return self.out_dir / "requests.csv"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (for the master's worker channel)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: deliver SIGTERM to this child when the parent dies, so no Locust is orphaned."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SurgeHandle:
    """A running surge: its processes, a monitor thread, `stop()` and `wait()`."""

    def __init__(
        self,
        out_dir: Path,
        master: subprocess.Popen[bytes],
        workers: list[subprocess.Popen[bytes]],
        logs: list[IO[bytes]],
        expected_s: float,
        on_progress: Callable[[Progress], None] | None,
        cpu_warn_percent: float,
    ) -> None:
        self.out_dir = out_dir
        self.master = master
        self.workers = workers
        self._logs = logs
        self._expected_s = expected_s
        self._on_progress = on_progress
        self._cpu_warn = cpu_warn_percent
        self._started = time.monotonic()
        self._stopped_early = False
        self.cpu_max_percent = 0.0
        self.cpu_warning = False
        self.last: Progress | None = None
        self._result: SurgeResult | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="surge-monitor", daemon=True)
        self._monitor.start()

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.master, *self.workers]

    @property
    def running(self) -> bool:
        return self.master.poll() is None

    @property
    def started_at(self) -> float | None:
        """When Locust started its first users (epoch seconds): the load's t=0; None before."""
        return read_load_start(self.out_dir)

    def wait_started(self, timeout_s: float = 120.0) -> float:
        """Block until the load has started and return its t=0 (epoch seconds).

        Locust takes seconds to start; a timeline in lab seconds is laid against this. Raises
        SurgeError if Locust ends first, TimeoutError after `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        while (started := self.started_at) is None:
            if not self.running:
                raise SurgeError(f"Locust ended before the load started: {log_tail(self.out_dir)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the load did not start within {timeout_s:.0f}s")
            time.sleep(0.05)
        return started

    def stop(self, timeout_s: float = 20.0) -> None:
        """End the run early: SIGINT the master (it stops workers, writes reports), then SIGTERM
        the rest; anything still alive after `timeout_s` is killed. Safe to call more than once.
        """
        if self.running:
            self._stopped_early = True
            # SIGINT, not SIGTERM: a headless Locust running a shape only installs its SIGTERM
            # handler after the shape ends, while Ctrl-C is handled (stop, quit, write reports).
            self.master.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait(self, timeout_s: float | None = None) -> SurgeResult:
        """Wait for the run to end (stopping it after `timeout_s`), and return its result.

        Ctrl-C (KeyboardInterrupt) while waiting stops the Locust processes and re-raises.
        """
        try:
            self.master.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
        except BaseException:
            self._end()
            raise
        return self._end()

    def _end(self) -> SurgeResult:
        self.stop()  # workers, if the master ended on its own; everything, if interrupted
        self._done.set()
        return self._finish()

    def _finish(self) -> SurgeResult:
        with self._lock:
            if self._result is None:
                self._monitor.join(timeout=5.0)
                for log in self._logs:
                    log.close()
                self._result = SurgeResult(
                    out_dir=self.out_dir,
                    exit_code=self.master.returncode,
                    duration_s=time.monotonic() - self._started,
                    cpu_max_percent=self.cpu_max_percent,
                    cpu_warning=self.cpu_warning,
                    stopped_early=self._stopped_early,
                    workers=len(self.workers),
                    started_at=self.started_at,
                )
                summary = {
                    k: str(v) if isinstance(v, Path) else v for k, v in asdict(self._result).items()
                }
                (self.out_dir / "surge.json").write_text(json.dumps(summary, indent=2))
            return self._result

    # -- monitor ---------------------------------------------------------------------------

    def _watch(self) -> None:
        procs: list[psutil.Process] = []
        for p in self.processes:
            with contextlib.suppress(psutil.Error):
                procs.append(psutil.Process(p.pid))
                procs[-1].cpu_percent(None)  # the first call only sets the baseline
        history = HistoryTail(self.out_dir / "locust_stats_history.csv")
        cpu_times: dict[int, float] = {}
        while not self._done.wait(1.0) and self.master.poll() is None:
            cpu = 0.0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    cpu = max(cpu, proc.cpu_percent(None))
                    times = proc.cpu_times()
                    cpu_times[proc.pid] = times.user + times.system
            cpu_s = sum(cpu_times.values())
            self.cpu_max_percent = max(self.cpu_max_percent, cpu)
            if cpu > self._cpu_warn and not self.cpu_warning:
                self.cpu_warning = True
                logger.warning(
                    "a Locust process is at %.0f%% CPU (over %.0f%%): the load generator may be "
                    "limiting the load; add --workers or lower the users",
                    cpu,
                    self._cpu_warn,
                )
            row = history.latest()
            elapsed = time.monotonic() - self._started
            if row is not None:
                self.last = Progress(elapsed, *row, cpu_percent=cpu, cpu_s=cpu_s)
            elif self.last is None:
                self.last = Progress(elapsed, 0, 0.0, 0.0, 0, 0, cpu, cpu_s)
            else:
                self.last = Progress(elapsed, *_fields(self.last), cpu_percent=cpu, cpu_s=cpu_s)
            if self._on_progress is not None:
                try:
                    self._on_progress(self.last)
                except Exception:  # a display bug must not stop the watch
                    logger.exception("surge progress callback failed")
            if elapsed > self._expected_s + START_GRACE_S:
                logger.error("surge: still running %.0fs past its end; stopping it", elapsed)
                self._stopped_early = True
                self.master.send_signal(signal.SIGINT)
                break


def _fields(p: Progress) -> tuple[int, float, float, int, int]:
    return p.users, p.rps, p.failures_per_s, p.requests, p.failures


class HistoryTail:
    """The newest `Aggregated` row of a growing locust_stats_history.csv."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._columns: list[str] | None = None
        self._latest: tuple[int, float, float, int, int] | None = None

    def latest(self) -> tuple[int, float, float, int, int] | None:
        """(users, rps, failures/s, total requests, total failures), or None before any."""
        try:
            with self.path.open(encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return None
        complete, _, _ = chunk.rpartition("\n")
        if not complete:
            return self._latest
        self._offset += len(complete.encode()) + 1
        for line in complete.split("\n"):
            cells = line.split(",")
            if self._columns is None:
                self._columns = cells
                continue
            row = dict(zip(self._columns, cells, strict=False))
            if row.get("Name") != "Aggregated":
                continue
            with contextlib.suppress(KeyError, ValueError):
                self._latest = (
                    int(row["User Count"]),
                    float(row["Requests/s"]),
                    float(row["Failures/s"]),
                    int(row["Total Request Count"]),
                    int(row["Total Failure Count"]),
                )
        return self._latest


def run_surge(
    targets: Targets,
    shape: Shape,
    duration_s: float | None,
    out_dir: Path,
    *,
    workers: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    locustfile: Path | None = None,
    mix: str | None = None,
    cpu_warn_percent: float = CPU_WARN_PERCENT,
    extra_args: tuple[str, ...] = (),
) -> SurgeHandle:
    """Start Locust headless on `targets` with `shape` (cut to `duration_s` when given).

    Returns at once with a handle; `handle.wait()` blocks until the end. Raises ConfigError for
    a missing locustfile, SurgeError if Locust cannot be started.
    """
    locustfile = (locustfile or DEFAULT_LOCUSTFILE).resolve()
    if not locustfile.is_file():
        raise ConfigError(f"--locustfile: {locustfile}: no such file")
    if duration_s is not None:
        shape = shape.model_copy(update={"duration_s": duration_s})
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    targets_file = out_dir / "targets.json"
    targets_file.write_text(targets.to_json())
    shape_file = out_dir / "shape.json"
    shape_file.write_text(shape.model_dump_json(by_alias=True, indent=2))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    common = [
        sys.executable, "-m", "locust", "-f", str(locustfile),
        "--edgelab-targets", str(targets_file),
        *(["--edgelab-mix", mix] if mix else []),
    ]  # fmt: skip
    master_cmd = [
        *common,
        "--headless",
        "--edgelab-shape", str(shape_file),
        "--edgelab-run-dir", str(out_dir),
        "--csv", str(out_dir / "locust"), "--csv-full-history",
        "--html", str(out_dir / "locust.html"),
        "--json-file", str(out_dir / "locust"),
        "--exit-code-on-error", "0",
        "--only-summary",
        *extra_args,
    ]  # fmt: skip
    worker_cmds: list[list[str]] = []
    if workers > 0:
        port = free_port()
        master_cmd += [
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--expect-workers", str(workers),
        ]  # fmt: skip
        worker_cmds = [
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            for _ in range(workers)
        ]
    preexec = _die_with_parent if sys.platform == "linux" else None
    logs: list[IO[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(cmd: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (out_dir / log_name).open("wb")
        logs.append(log)
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop Locust in order
            preexec_fn=preexec,  # noqa: PLW1509 - only sets the parent-death signal
        )
        procs.append(proc)
        return proc

    try:
        master = spawn(master_cmd, "locust.log")
        worker_procs = [
            spawn(cmd, f"locust-worker-{n}.log") for n, cmd in enumerate(worker_cmds, 1)
        ]
    except OSError as e:
        for proc in procs:
            proc.kill()
            proc.wait()
        for log in logs:
            log.close()
        raise SurgeError(f"cannot start Locust: {e}") from e
    logger.info("surge: Locust pid %d (%d workers) writing to %s", master.pid, workers, out_dir)
    return SurgeHandle(
        out_dir, master, worker_procs, logs, shape.duration_s, on_progress, cpu_warn_percent
    )


def log_tail(out_dir: Path, lines: int = 15) -> str:
    """The last lines of the master's log, to explain a failed run."""
    try:
        text = (out_dir / "locust.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
