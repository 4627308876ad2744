"""Cache hits: one edge process against nginx `proxy_cache` (1 worker), in one run (issue 3).

    python benchmarks/cache.py                  # or: make bench-cache
    python benchmarks/cache.py --runs 5 --duration 5 --json out.json

Both proxies sit in front of the same origin and serve 1 KiB objects (`/static/*`, public,
max-age) from their caches: every measured request is a hit (each is warmed first and checked
for `X-Cache: HIT`). Measured with wrk:
  (a) throughput at saturation (`--connections`, back to back): target edge >= 0.4x nginx;
  (b) latency at 1 connection: target edge p50 within 150 us of nginx's;
  (c) tail at 64 connections: target edge p99 <= 2.5x its p50.
Also measured, for scale: the edge with its bot module off (`edge-nobot`), the edge with its
WAF off too (`edge-nowaf`: the cache path alone, which is what nginx `proxy_cache` compares to;
the request id, headers, cache guard, faults and cache stages still run) and aiohttp's low-level
server answering a fixed body (`aiohttp-fixed`: the ceiling for anything built on aiohttp) and
the edge's own listener answering it (`listener-fixed`: the ceiling of the edge as it is built).
Each figure is the median of `--runs` rounds; rounds interleave the targets so a noisy
neighbour hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    Cpu,
    Results,
    WrkLoad,
    edge_process,
    interleaved_rounds,
    machine_note,
    nginx_process,
    origin_process,
    print_medians,
)

FIXED_BODY_SERVER = """
import socket, sys, uvloop
from aiohttp import web
BODY = b"x" * 1024
async def handle(request):
    return web.Response(body=BODY, headers={"Cache-Control": "public, max-age=3600"})
async def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await asyncio.Event().wait()
import asyncio
uvloop.run(main())
"""
"""The issue's reference point: aiohttp's low-level server answering a fixed 1 KiB body, the
ceiling for any edge built on it (no parsing beyond aiohttp's, no pipeline, no cache)."""


@asynccontextmanager
async def fixed_body_server() -> AsyncIterator[tuple[str, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FIXED_BODY_SERVER, str(sock.fileno()), pass_fds=(sock.fileno(),)
    )
    sock.close()
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        await proc.wait()


FIXED_LISTENER_SERVER = """
import asyncio, sys, uvloop
sys.path.insert(0, sys.argv[1])
from multidict import CIMultiDict
from edgelab.config.edge import ClientLimits
from edgelab.edge.exchange import EdgeResponse
from edgelab.edge.listener import ProxyListener
BODY = b"x" * 1024
HEADERS = CIMultiDict([("Cache-Control", "public, max-age=3600"), ("Content-Type", "text/plain")])
async def handle(request, connection):
    return EdgeResponse(200, HEADERS, BODY)
async def main():
    listener = ProxyListener(handle, limits=ClientLimits(), pop="bench")
    print(await listener.start("127.0.0.1", 0, "listener-fixed"), flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""
"""The edge's own listener (edge/listener.py) answering the same fixed body: its ceiling, as
aiohttp-fixed was the ceiling of the aiohttp listener it replaced."""


@asynccontextmanager
async def fixed_listener_server() -> AsyncIterator[tuple[str, int]]:
    root = str(Path(__file__).resolve().parent.parent)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FIXED_LISTENER_SERVER, root, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        await proc.wait()


PATHS = ("/static/app.js", "/static/site.css", "/static/logo.svg")
"""1 KiB cacheable objects (the origin's static route: public, max-age, strong ETag)."""


async def warm(base_url: str, header: str) -> None:
    """Fetch each object until the proxy answers it from cache; fail loudly otherwise."""
    async with aiohttp.ClientSession() as http:
        for path in PATHS:
            for _ in range(3):
                async with http.get(base_url + path) as r:
                    await r.read()
                    if "HIT" in r.headers.get(header, ""):
                        break
            else:
                raise RuntimeError(f"{base_url}{path} is not served from cache ({header})")


async def measure(args: argparse.Namespace) -> tuple[Results, Cpu]:
    async with AsyncExitStack() as stack:
        origin = await stack.enter_async_context(
            origin_process(service_time_ms=0, static_bytes=1024)
        )
        origin_url = origin.addresses["http"]
        edge = await stack.enter_async_context(edge_process(origin_url))
        # The same edge with the bot module off: what the cache path itself costs, as nginx has
        # no bot module to run.
        bare = await stack.enter_async_context(
            edge_process(origin_url, config={"bot": {"enabled": False}})
        )
        # The cache path alone: neither the WAF nor the bot module runs (nginx has neither).
        cache_only = await stack.enter_async_context(
            edge_process(origin_url, config={"waf": {"mode": "off"}, "bot": {"enabled": False}})
        )
        cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="edgelab-ngx-cache-"))
        nginx = await stack.enter_async_context(
            nginx_process(
                origin_url,
                workers=1,
                extra_http=(
                    f"proxy_cache_path {cache_dir} levels=1:2 keys_zone=edge:10m "
                    "max_size=100m inactive=60m use_temp_path=off;"
                ),
                extra_location=(
                    "proxy_cache edge; proxy_cache_lock on; "
                    "add_header X-Cache $upstream_cache_status;"
                ),
            )
        )
        targets = {
            "edge": (edge.addresses["proxy"], edge.process.pid),
            "edge-nobot": (bare.addresses["proxy"], bare.process.pid),
            "edge-nowaf": (cache_only.addresses["proxy"], cache_only.process.pid),
            "nginx": (nginx.url, nginx.pid),
        }
        for url, _ in targets.values():
            await warm(url, "X-Cache")
        targets["aiohttp-fixed"] = await stack.enter_async_context(fixed_body_server())
        targets["listener-fixed"] = await stack.enter_async_context(fixed_listener_server())
        phases = {
            "saturation": dict(connections=args.connections, load=WrkLoad(paths=PATHS)),
            "one-connection": dict(connections=1, load=WrkLoad(paths=PATHS)),
            "64-connections": dict(connections=64, load=WrkLoad(paths=PATHS)),
        }
        return await interleaved_rounds(
            targets,
            phases,
            rounds=args.runs,
            duration_s=args.duration,
            warm_load=WrkLoad(paths=PATHS),
            cpu_phase="saturation",
        )


def report(results: Results, cpu: Cpu, args: argparse.Namespace) -> dict[str, float]:
    print_medians(
        results, cpu, rounds=args.runs, duration_s=args.duration, cpu_phase="saturation"
    )
    sat, one, many = results["saturation"], results["one-connection"], results["64-connections"]
    ratios: dict[str, float] = {}
    targets: dict[str, str] = {}
    for edge in ("edge", "edge-nobot", "edge-nowaf"):
        ratios[f"{edge} rps / nginx rps (saturation)"] = sat[edge].rps / sat["nginx"].rps
        targets[f"{edge} rps / nginx rps (saturation)"] = ">= 0.4"
        ratios[f"{edge} hits per CPU second / nginx's"] = cpu["nginx"] / cpu[edge]
        targets[f"{edge} hits per CPU second / nginx's"] = ">= 0.4 (steadier)"
        ratios[f"{edge} p50 - nginx p50, 1 connection (us)"] = (
            one[edge].p50_ms - one["nginx"].p50_ms
        ) * 1000
        targets[f"{edge} p50 - nginx p50, 1 connection (us)"] = "<= 150"
        ratios[f"{edge} p99 / p50 at 64 connections"] = many[edge].p99_ms / many[edge].p50_ms
        targets[f"{edge} p99 / p50 at 64 connections"] = "<= 2.5"
    ratios["aiohttp-fixed hits per CPU second / nginx's"] = cpu["nginx"] / cpu["aiohttp-fixed"]
    targets["aiohttp-fixed hits per CPU second / nginx's"] = "(the ceiling)"
    ratios["aiohttp-fixed rps / nginx rps (saturation)"] = (
        sat["aiohttp-fixed"].rps / sat["nginx"].rps
    )
    targets["aiohttp-fixed rps / nginx rps (saturation)"] = "(the ceiling; issue: ~0.45)"
    ratios["listener-fixed hits per CPU second / nginx's"] = cpu["nginx"] / cpu["listener-fixed"]
    targets["listener-fixed hits per CPU second / nginx's"] = "(the edge listener's ceiling)"
    ratios["listener-fixed rps / nginx rps (saturation)"] = (
        sat["listener-fixed"].rps / sat["nginx"].rps
    )
    targets["listener-fixed rps / nginx rps (saturation)"] = "(the edge listener's ceiling)"
    ratios["nginx p99 / p50 at 64 connections"] = many["nginx"].p99_ms / many["nginx"].p50_ms
    targets["nginx p99 / p50 at 64 connections"] = "(reference)"
    print()
    for name, value in ratios.items():
        print(f"{name:48} {value:8.2f}   target {targets[name]}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="saturation connections")
    parser.add_argument("--json", type=Path, help="also write the medians and ratios here")
    args = parser.parse_args()
    results, cpu = asyncio.run(measure(args))
    ratios = report(results, cpu, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "results": {
                        p: {t: vars(r) for t, r in by.items()} for p, by in results.items()
                    },
                    "server_cpu_us_per_request": cpu,
                    "ratios": ratios,
                    "machine": machine_note(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
