"""`edgelab toxiproxy` with no toxics against a direct connection, in one run (issue 6).

    python benchmarks/toxiproxy.py                 # 5 rounds, 128 MB each way, 3000 pings
    python benchmarks/toxiproxy.py --runs 5 --mb 512 --pings 5000 --json out.json

Three processes: the fault proxy (`edgelab toxiproxy`, uvloop), a TCP upstream written for the
purpose (uvloop protocols: a sink, a source and an echo), and this script as the client, with
plain blocking sockets so the client adds as little as possible. While measuring, 200 idle
connections are held open through the proxy. Each round measures, directly and through a proxy
created with the toxiproxy-python client layer (`FaultProxyClient`):
  - throughput client -> upstream (the `upstream` stream): send `--mb` MB, wait for the ack;
  - throughput upstream -> client (`downstream`): ask for `--mb` MB, read them;
  - round-trip time of 64-byte echo messages, one at a time (p50, p99).
Prints medians over the rounds and the ratios the targets are stated in: proxied / direct
throughput each way (target >= 0.25) and added p50 round trip (target < 150 µs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable, and drop
    # this directory from the path, where this file would shadow the `toxiproxy` client package
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))

from benchmarks.harness import machine_note  # noqa: E402
from edgelab.faultproxy.client import FaultProxyClient  # noqa: E402
from edgelab.testing.servers import running_process  # noqa: E402

BLOCK = 1 << 20
"""Bytes per send/recv call on the client and per write on the upstream source."""
HELD = 200
"""Idle connections kept open through the proxy during the measurements."""


# -- the upstream (its own process) ------------------------------------------------------------


def serve_upstream(port_file: str) -> None:
    """A TCP server: first byte U (sink N bytes, then ack), D (send N bytes) or E (echo)."""
    import uvloop

    payload = memoryview(b"\x5a" * BLOCK)

    class Upstream(asyncio.Protocol):
        def __init__(self) -> None:
            self.head = b""
            self.mode = b""
            self.left = 0
            self.paused = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t: Any = transport
            self.t.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            if self.mode == b"E":
                self.t.write(data)
                return
            if self.mode == b"U":
                self.left -= len(data)
                if self.left <= 0:
                    self.t.write(b"k")
                    self.mode = b"done"
                return
            self.head += data
            if len(self.head) < 9:
                return
            self.mode, size, rest = (
                self.head[:1],
                int.from_bytes(self.head[1:9], "big"),
                self.head[9:],
            )
            self.left = size
            if self.mode == b"D":
                self.pump()
            elif rest:
                self.mode, self.head = self.mode, b""
                self.data_received(rest)

        def pump(self) -> None:
            while self.left > 0 and not self.paused:
                n = min(self.left, BLOCK)
                self.t.write(payload[:n])
                self.left -= n

        def pause_writing(self) -> None:
            self.paused = True

        def resume_writing(self) -> None:
            self.paused = False
            if self.mode == b"D":
                self.pump()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upstream, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        Path(port_file).write_text(json.dumps({"tcp": f"127.0.0.1:{port}"}))
        await asyncio.Event().wait()

    uvloop.run(main())


@asynccontextmanager
async def upstream_process() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve-upstream", str(port_file)
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists():
                if proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("benchmark upstream did not start")
                await asyncio.sleep(0.05)
            yield str(json.loads(port_file.read_text())["tcp"])
        finally:
            proc.terminate()
            await proc.wait()


# -- the client (blocking sockets) -------------------------------------------------------------


def dial(address: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upload(address: str, size: int) -> float:
    """Bytes/s sending `size` bytes to the sink (until its ack)."""
    block = b"\xa5" * BLOCK
    with dial(address) as sock:
        started = time.perf_counter()
        sock.sendall(b"U" + size.to_bytes(8, "big"))
        left = size
        while left > 0:
            n = min(left, BLOCK)
            sock.sendall(block[:n] if n < BLOCK else block)
            left -= n
        assert sock.recv(1) == b"k"
        return size / (time.perf_counter() - started)


def download(address: str, size: int) -> float:
    """Bytes/s reading `size` bytes from the source."""
    buf = bytearray(BLOCK)
    with dial(address) as sock:
        started = time.perf_counter()
        sock.sendall(b"D" + size.to_bytes(8, "big"))
        left = size
        while left > 0:
            n = sock.recv_into(buf)
            assert n > 0, "stream ended early"
            left -= n
        return size / (time.perf_counter() - started)


def pings(address: str, count: int) -> list[float]:
    """Round-trip seconds of `count` 64-byte echoes, one at a time (after 200 warm-up ones)."""
    message = b"p" * 64
    times = []
    with dial(address) as sock:
        sock.sendall(b"E" + (0).to_bytes(8, "big"))
        for i in range(count + 200):
            started = time.perf_counter()
            sock.sendall(message)
            got = 0
            while got < len(message):
                got += len(sock.recv(4096))
            if i >= 200:
                times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(address: str, size: int, count: int) -> dict[str, float]:
    rtts = pings(address, count)
    return {
        "up_MBps": upload(address, size) / 1e6,
        "down_MBps": download(address, size) / 1e6,
        "p50_us": percentile(rtts, 0.5) * 1e6,
        "p99_us": percentile(rtts, 0.99) * 1e6,
    }


# -- the run -----------------------------------------------------------------------------------


async def run(runs: int, size: int, count: int) -> dict[str, Any]:
    async with (
        upstream_process() as upstream,
        running_process("toxiproxy", "--log-level", "warning") as toxiproxy,
    ):
        client = FaultProxyClient(toxiproxy.addresses["api"])
        proxy = await asyncio.to_thread(client.ensure_proxy, "bench", "127.0.0.1:0", upstream)
        listen = proxy["listen"]
        held = [await asyncio.to_thread(dial, listen) for _ in range(HELD)]
        try:
            rounds = []
            for i in range(runs):
                direct = await asyncio.to_thread(measure, upstream, size, count)
                proxied = await asyncio.to_thread(measure, listen, size, count)
                rounds.append({"direct": direct, "proxied": proxied})
                print(f"round {i + 1}: direct {fmt(direct)} | proxied {fmt(proxied)}", flush=True)
            active = await asyncio.to_thread(client.proxy, "bench")
            assert active["enabled"]
        finally:
            for sock in held:
                sock.close()

    def med(kind: str, key: str) -> float:
        return statistics.median(r[kind][key] for r in rounds)

    summary = {
        "direct": {k: med("direct", k) for k in rounds[0]["direct"]},
        "proxied": {k: med("proxied", k) for k in rounds[0]["proxied"]},
        "up_ratio": statistics.median(
            r["proxied"]["up_MBps"] / r["direct"]["up_MBps"] for r in rounds
        ),
        "down_ratio": statistics.median(
            r["proxied"]["down_MBps"] / r["direct"]["down_MBps"] for r in rounds
        ),
        "added_p50_us": statistics.median(
            r["proxied"]["p50_us"] - r["direct"]["p50_us"] for r in rounds
        ),
        "held_connections": HELD,
        "mb": size / 1e6,
        "pings": count,
        "machine": machine_note(),
    }
    return {"rounds": rounds, "summary": summary}


def fmt(m: dict[str, float]) -> str:
    return (
        f"up {m['up_MBps']:7.0f} MB/s  down {m['down_MBps']:7.0f} MB/s  "
        f"rtt p50 {m['p50_us']:6.0f} µs  p99 {m['p99_us']:6.0f} µs"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-upstream":
        serve_upstream(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=128, help="MB per throughput transfer")
    parser.add_argument("--pings", type=int, default=3000, help="echo round trips per round")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()
    result = asyncio.run(run(args.runs, args.mb * 1_000_000, args.pings))
    s = result["summary"]
    print(f"machine: {s['machine']}; {HELD} idle connections held through the proxy")
    print(f"direct : {fmt(s['direct'])}")
    print(f"proxied: {fmt(s['proxied'])}")
    print(
        f"proxied/direct throughput: up {s['up_ratio']:.2f}, down {s['down_ratio']:.2f} "
        f"(target >= 0.25); added p50 round trip {s['added_p50_us']:.0f} µs (target < 150)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
