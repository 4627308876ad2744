"""Probes that look at the system the way users and operators do: HTTP and /metrics.

await success_ratio(ctx, target="cdn-a", path="/page/1", requests=20)   # 0.0 .. 1.0
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from edgelab.chaos.catalogue._http import ActivityFailed
from edgelab.chaos.context import RunContext


def _base_urls(ctx: RunContext, target: str) -> list[str]:
    """`origin` -> the origin; anything else -> proxy URLs of the POPs it names."""
    if target == "origin":
        return [ctx.lab.one("origin").addresses["http"]]
    return [p.addresses["proxy"] for p in ctx.lab.select("edge", target)]


async def _timed_get(ctx: RunContext, url: str, timeout_s: float) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        async with ctx.http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
            await r.read()
            status = r.status
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    return status, (time.perf_counter() - started) * 1000.0


async def _sample(
    ctx: RunContext, target: str, path: str, requests: int, timeout_s: float
) -> list[tuple[int, float]]:
    bases = _base_urls(ctx, target)
    urls = [f"{bases[i % len(bases)]}{path}" for i in range(requests)]
    return list(await asyncio.gather(*(_timed_get(ctx, u, timeout_s) for u in urls)))


async def success_ratio(
    ctx: RunContext,
    *,
    target: str = "all",
    path: str = "/page/1",
    requests: int = 20,
    timeout_s: float = 5.0,
) -> float:
    """Share of `requests` GETs of `path` (spread over the target's POPs) answered below 500."""
    results = await _sample(ctx, target, path, requests, timeout_s)
    return sum(1 for status, _ in results if 0 < status < 500) / max(1, len(results))


async def latency_percentile(
    ctx: RunContext,
    *,
    target: str = "all",
    path: str = "/page/1",
    requests: int = 20,
    percentile: float = 95.0,
    timeout_s: float = 5.0,
) -> float:
    """The `percentile`th latency in ms of `requests` GETs of `path`."""
    latencies = sorted(ms for _, ms in await _sample(ctx, target, path, requests, timeout_s))
    index = min(len(latencies) - 1, max(0, round(percentile / 100.0 * len(latencies)) - 1))
    return latencies[index]


async def metric(
    ctx: RunContext, *, process: str, name: str, labels: dict[str, str] | None = None
) -> float:
    """A Prometheus sample from any lab process (summed over series matching `labels`)."""
    proc = ctx.lab.processes.get(process)
    if proc is None:
        raise ActivityFailed(
            f"no process {process!r} in this lab (have {', '.join(sorted(ctx.lab.processes))})"
        )
    try:
        async with ctx.http.get(f"{proc.ops_base}/metrics") as r:
            text = await r.text()
    except aiohttp.ClientError as e:
        raise ActivityFailed(f"{process} /metrics unreachable: {e}") from e
    want = labels or {}
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
                total += s.value
    return total


async def healthy(ctx: RunContext, *, process: str) -> bool:
    """True when the process answers its /healthz."""
    proc = ctx.lab.processes.get(process)
    if proc is None:
        return False
    try:
        async with ctx.http.get(
            f"{proc.ops_base}/healthz", timeout=aiohttp.ClientTimeout(total=3)
        ) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def send(
    ctx: RunContext,
    *,
    target: str = "all",
    path: str = "/search",
    query: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
    requests: int = 1,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Send crafted requests as a client would (e.g. the input that trips a bad WAF rule).

    Returns how many got each status ("0": no answer in time). The requests go through the
    proxy port like any client's; nothing here can reach an admin API.
    """
    bases = _base_urls(ctx, target)
    counts: dict[str, int] = {}

    async def one(base: str) -> int:
        try:
            async with ctx.http.request(
                method,
                f"{base}{path}",
                params=query,
                data=body,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as r:
                await r.read()
                return r.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    for status in await asyncio.gather(*(one(bases[i % len(bases)]) for i in range(requests))):
        counts[str(status)] = counts.get(str(status), 0) + 1
    return counts


async def steering_target(ctx: RunContext, *, service: str = "www") -> str:
    """The target steering answers for `service` now (`cdn-a`, `cdn-b` or `origin`)."""
    steering = ctx.lab.one("steering").addresses["http"]
    try:
        async with ctx.http.get(f"{steering}/resolve", params={"service": service}) as r:
            if r.status != 200:
                raise ActivityFailed(f"steering /resolve?service={service} answered {r.status}")
            answer = await r.json()
    except aiohttp.ClientError as e:
        raise ActivityFailed(f"steering unreachable: {e}") from e
    return str(answer["target"])
