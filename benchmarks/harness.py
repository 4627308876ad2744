"""Shared benchmark plumbing: wrk as the load generator, nginx as the reference, our servers.

    from benchmarks.harness import WrkLoad, nginx_proxy, origin_process, run_wrk

    async with origin_process(service_time_ms=0) as origin:
        async with nginx_proxy(origin.addresses["http"]) as nginx_url:
            result = await run_wrk(nginx_url + "/static/a.css", connections=32, duration_s=5)
            print(result.rps, result.p50_ms, result.p99_ms)

- `run_wrk` runs wrk (Debian package `wrk`) with a small Lua script whose `done()` prints the
  summary as one JSON line, so nothing depends on wrk's human-readable layout. `WrkLoad` sets
  the paths (round-robin), method, headers, body and a per-connection think time (`delay_ms`,
  which turns wrk's closed loop into a moderate, below-saturation load).
- `nginx_proxy` starts nginx (Debian package `nginx`) as a plain `proxy_pass` reverse proxy with
  a generated config, in a temporary prefix, on a socket we bind ourselves on 127.0.0.1:0 and
  hand over through nginx's `NGINX` inherited-socket variable (no port race).
- `origin_process` / `edge_process` start our real servers as separate processes (through
  `edgelab.testing.servers.running_process`), so the measured proxy has a core's worth to itself.

Every process started here is stopped when its context exits, on error too. Scripts using it
live next to it and run as `python benchmarks/<name>.py` (they add the repository root to
`sys.path` themselves, see `proxy.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgelab.testing.servers import ServerProcess, running_process

RESULT_MARKER = "EDGELAB_WRK_RESULT "
"""Prefix of the JSON line the Lua `done()` prints."""


class ToolMissing(RuntimeError):
    """A benchmark needs a program that is not installed."""


def require(program: str, package: str) -> str:
    """The path of `program`, or ToolMissing naming the Debian package that provides it."""
    path = shutil.which(program) or (
        f"/usr/sbin/{program}" if os.path.exists(f"/usr/sbin/{program}") else None
    )
    if path is None:
        raise ToolMissing(f"{program} not found: apt-get install {package}")
    return path


# -- wrk ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkLoad:
    """What each wrk connection sends."""

    paths: Sequence[str] = ("/",)
    """Request targets, taken round-robin."""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    delay_ms: float = 0.0
    """Think time before each request on a connection; 0 = back to back (saturation)."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run's summary. Latencies are wrk's own (corrected for nothing: closed loop)."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    """Socket errors (connect, read, write, timeout) plus responses with status >= 400."""

    def row(self) -> str:
        return (
            f"{self.rps:9.0f} req/s  p50 {self.p50_ms:7.3f} ms  p90 {self.p90_ms:7.3f} ms  "
            f"p99 {self.p99_ms:7.3f} ms  errors {self.errors}"
        )


def _lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for our inputs


def wrk_script(load: WrkLoad) -> str:
    """The Lua script for `load`: round-robin requests, optional delay, a JSON summary."""
    headers = (
        "{"
        + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in load.headers.items())
        + "}"
    )
    body = _lua_string(load.body) if load.body is not None else "nil"
    paths = "{" + ", ".join(_lua_string(p) for p in load.paths) + "}"
    lines = [
        f"local paths = {paths}",
        f"local headers = {headers}",
        f"local body = {body}",
        "local i = 0",
        "request = function()",
        "  i = i % #paths + 1",
        f"  return wrk.format({_lua_string(load.method)}, paths[i], headers, body)",
        "end",
    ]
    if load.delay_ms > 0:
        lines += ["delay = function()", f"  return {load.delay_ms:g}", "end"]
    lines += [
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        f"  io.write({_lua_string(RESULT_MARKER)})",
        '  io.write(string.format(\'{"requests": %d, "duration_us": %d, "errors": %d, \', '
        "summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))",
        '  io.write(string.format(\'"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n\', '
        "latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def parse_wrk_output(stdout: str) -> WrkResult:
    """The summary line our Lua `done()` printed; ValueError if wrk did not get that far."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER) :])
            duration_s = data["duration_us"] / 1e6
            return WrkResult(
                requests=data["requests"],
                duration_s=duration_s,
                rps=data["requests"] / duration_s if duration_s else 0.0,
                p50_ms=data["p50_us"] / 1000,
                p90_ms=data["p90_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                max_ms=data["max_us"] / 1000,
                errors=data["errors"],
            )
    raise ValueError(f"no wrk summary in output: {stdout[-500:]!r}")


async def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    threads: int = 1,
    load: WrkLoad = WrkLoad(),
    timeout_s: float = 10.0,
) -> WrkResult:
    """Run wrk against `url` (scheme://host:port; the paths come from `load`)."""
    wrk = require("wrk", "wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(wrk_script(load))
        script = f.name
    try:
        proc = await asyncio.create_subprocess_exec(
            wrk,
            "-t",
            str(threads),
            "-c",
            str(max(connections, threads)),
            "-d",
            f"{duration_s:g}s",
            "--timeout",
            f"{timeout_s:g}s",
            "-s",
            script,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), duration_s + timeout_s + 30)
    finally:
        os.unlink(script)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {err.decode(errors='replace')}")
    return parse_wrk_output(out.decode(errors="replace"))


def median_result(results: Sequence[WrkResult]) -> WrkResult:
    """Field-by-field median of several runs of the same measurement."""

    def med(name: str) -> Any:
        return statistics.median(getattr(r, name) for r in results)

    return WrkResult(
        requests=int(med("requests")),
        duration_s=med("duration_s"),
        rps=med("rps"),
        p50_ms=med("p50_ms"),
        p90_ms=med("p90_ms"),
        p99_ms=med("p99_ms"),
        max_ms=med("max_ms"),
        errors=int(med("errors")),
    )


Results = dict[str, dict[str, WrkResult]]
"""phase -> target -> median wrk result."""
Cpu = dict[str, float]
"""target -> median server CPU microseconds per request in the phase that measures it."""


async def interleaved_rounds(
    targets: Mapping[str, tuple[str, int]],
    phases: Mapping[str, Mapping[str, Any]],
    *,
    rounds: int,
    duration_s: float,
    warm_load: WrkLoad,
    cpu_phase: str,
) -> tuple[Results, Cpu]:
    """Every phase (`run_wrk` keyword arguments) against every target (url, server pid), round
    after round, so that a noisy neighbour hits all targets alike; the medians per phase and
    target, and the server CPU per request in `cpu_phase` (the steadier figure here)."""
    runs: dict[str, dict[str, list[WrkResult]]] = {p: {t: [] for t in targets} for p in phases}
    cpu_runs: dict[str, list[float]] = {t: [] for t in targets}
    for url, _ in targets.values():  # warm up: connections, the interpreter, the OS
        await run_wrk(url, connections=4, duration_s=1, load=warm_load)
    width = max(map(len, phases))
    for round_no in range(1, rounds + 1):
        for phase, opts in phases.items():
            for target, (url, pid) in targets.items():
                cpu_before = process_cpu_s(pid)
                result = await run_wrk(url, duration_s=duration_s, **opts)
                cpu_us = (process_cpu_s(pid) - cpu_before) * 1e6 / max(result.requests, 1)
                runs[phase][target].append(result)
                if phase == cpu_phase:
                    cpu_runs[target].append(cpu_us)
                print(
                    f"round {round_no} {phase:{width}} {target:14} {result.row()}  "
                    f"server CPU {cpu_us:5.0f} us/req",
                    flush=True,
                )
    medians = {p: {t: median_result(rs) for t, rs in by.items()} for p, by in runs.items()}
    return medians, {t: statistics.median(c) for t, c in cpu_runs.items()}


def print_medians(
    results: Results, cpu: Cpu, *, rounds: int, duration_s: float, cpu_phase: str
) -> None:
    """The medians of `interleaved_rounds`, a block per phase."""
    print(f"\nmedian of {rounds} runs, {duration_s:g} s each ({machine_note()})")
    for phase, by in results.items():
        print(f"\n{phase}:")
        for target, r in by.items():
            extra = f"  server CPU {cpu[target]:5.0f} us/req" if phase == cpu_phase else ""
            print(f"  {target:14} {r.row()}{extra}")


# -- nginx -------------------------------------------------------------------------------------


def nginx_config(
    *,
    prefix: Path,
    port: int,
    upstream: str,
    workers: int = 1,
    keepalive: int = 64,
    extra_http: str = "",
    extra_location: str = "",
) -> str:
    """A self-contained nginx.conf: `proxy_pass` to `upstream` with keep-alive, no cache, no log.

    `upstream` is `host:port`. Everything nginx writes stays under `prefix`.
    """
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    upstream origin {{
        server {upstream};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}
    {extra_http}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            {extra_location}
        }}
    }}
}}
"""


@dataclass(frozen=True)
class NginxProcess:
    url: str
    """Its base URL, `http://127.0.0.1:<port>`."""
    pid: int
    """The master's pid (`process_cpu_s(pid)` counts its workers too)."""


@asynccontextmanager
async def nginx_proxy(
    upstream_url: str, *, workers: int = 1, extra_http: str = "", extra_location: str = ""
) -> AsyncIterator[str]:
    """nginx reverse-proxying to `upstream_url` (http://host:port); yields its own base URL."""
    async with nginx_process(
        upstream_url, workers=workers, extra_http=extra_http, extra_location=extra_location
    ) as nginx:
        yield nginx.url


@asynccontextmanager
async def nginx_process(
    upstream_url: str, *, workers: int = 1, extra_http: str = "", extra_location: str = ""
) -> AsyncIterator[NginxProcess]:
    """`nginx_proxy`, yielding its pid too (for `process_cpu_s`)."""
    nginx = require("nginx", "nginx")
    upstream = upstream_url.removeprefix("http://").rstrip("/")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="edgelab-nginx-") as tmp:
        prefix = Path(tmp)
        os.chmod(prefix, 0o755)
        conf = prefix / "nginx.conf"
        conf.write_text(
            nginx_config(
                prefix=prefix,
                port=port,
                upstream=upstream,
                workers=workers,
                extra_http=extra_http,
                extra_location=extra_location,
            )
        )
        # nginx takes over listening sockets named in $NGINX (its binary-upgrade mechanism), so
        # the port we bound is the one it serves: no free-port guessing.
        env = {**os.environ, "NGINX": f"{sock.fileno()};"}
        proc = await asyncio.create_subprocess_exec(
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(conf),
            "-e",
            str(prefix / "error.log"),
            env=env,
            pass_fds=(sock.fileno(),),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        sock.close()  # nginx has its copy
        try:
            await _wait_http_ok(f"http://127.0.0.1:{port}/", proc, prefix / "error.log")
            yield NginxProcess(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _wait_http_ok(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    """One GET through the new server (the socket is already listening, so it just waits)."""
    import aiohttp

    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, timeout=aiohttp.ClientTimeout(total=20)) as r,
        ):
            await r.read()
    except (aiohttp.ClientError, TimeoutError) as e:
        detail = _tail(log)
        if proc.returncode is not None and proc.stderr is not None:
            detail += (await proc.stderr.read()).decode(errors="replace")
        raise RuntimeError(f"nginx did not come up: {e}: {detail}") from e


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


# -- our servers -------------------------------------------------------------------------------


@asynccontextmanager
async def origin_process(
    *, service_time_ms: float = 0.0, workers: int = 1024, queue: int = 4096, **routes: int
) -> AsyncIterator[ServerProcess]:
    """`edgelab origin` as its own process, by default fast and too big to shed (the origin is
    not what a proxy benchmark measures). `routes` sets `Routes` fields (e.g. static_bytes)."""
    profile = {
        "seed": 1,
        "capacity": {
            "workers": workers,
            "queue": queue,
            "queue_timeout_s": 30,
            "service_time": {"distribution": "fixed", "mean_ms": service_time_ms},
        },
        "routes": routes,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(profile, f)
    try:
        async with running_process(
            "origin", "--profile", f.name, "--log-level", "warning"
        ) as origin:
            yield origin
    finally:
        with contextlib.suppress(OSError):
            os.unlink(f.name)


@asynccontextmanager
async def edge_process(
    origin_url: str, *, config: Mapping[str, Any] | None = None
) -> AsyncIterator[ServerProcess]:
    """`edgelab edge` in front of `origin_url` as its own process, logging warnings only.

    `config` is an edge config (the YAML shape of `EdgeConfig`) for the sections under test.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({**(config or {}), "origin": origin_url}, f)
    try:
        async with running_process("edge", "--config", f.name, "--log-level", "warning") as edge:
            yield edge
    finally:
        with contextlib.suppress(OSError):
            os.unlink(f.name)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its children (nginx's workers).

    Unlike requests/s, CPU per request hardly depends on what else the machine runs, so it is
    the steadier figure on a shared machine. Linux only (reads /proc).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def machine_note() -> str:
    """CPU count and load average, to print next to figures (this machine is shared)."""
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
