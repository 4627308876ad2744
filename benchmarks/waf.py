"""WAF cost: per-request p50 (typical GET, 64 KiB form) and the 2019-07-02 regex, re vs RE2.

    python benchmarks/waf.py [--runs 2000] [--skip-stall]
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p \
        python benchmarks/waf.py --instructions typical [--exclusions none|elsewhere|applies]

1. Per-request cost of the WAF stage with the default managed ruleset (request building, both
   phases, metrics; the body already buffered, so no socket time). Targets: p50 < 100 us (GET),
   < 1 ms (form). Under both regex engines. Three kinds of browser GET, because the engine keeps
   what it learnt of short values across requests (`edgelab.policy.waf.memo`):
   - `repeat`: the same request every time (all values already seen);
   - `typical`: the same browser headers, but a query, session cookie and referer that differ on
     every request (what a site's traffic looks like; the figure to hold against the target);
   - `cold`: `typical` with every memo dropped first (a flood of never-seen values);
   and a 64 KiB urlencoded form of free text.
2. The catastrophic 2019 pattern alone on inputs of growing length under `re` and RE2: time per
   search and the ratio to the previous length (super-linear under `re`, flat under RE2).
With `--instructions KIND` (under callgrind, started with instrumentation off) it runs only the
stage loop for one kind of request: 3,000 warm-up requests, then instrumentation on for
`--runs` requests and off again (`callgrind_control`), so the output file's total divided by
`--runs` is the instructions per request. `--exclusions` adds per-site exclusions to the WAF
config: `elsewhere` (three that do not apply to the request: the cost of having some), or
`applies` (one hiding the query's `q` from the SQLi rules on `/products`, and two that do not).
3. The stall, end to end: a real origin and edge with the 2019 ruleset pushed as a `waf-rules`
   artifact; one request carries a long argument while a benign client keeps fetching a page.
   Under `re` the benign requests wait for the whole search (the event loop is held); under
   RE2 they do not notice.
4. RE2's own worst case: 64 KiB of attack fragments in a random order, a fresh draw every
   request (`--draws`), through the stage in log mode (CPU of the process: a body of
   `worker_body_bytes` or more is inspected in the WAF's worker thread), then 8 such POSTs
   through a real edge while a benign client fetches a page. `--worst-only` runs only this.
   Linear time is not cheap time: an automaton of many patterns builds new states as it reads
   such text (see `edgelab.policy.waf.regex.scan_groups` and `scan.Prefilter._own_forms`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from multidict import CIMultiDict  # noqa: E402

from edgelab.config.edge import EdgeConfig  # noqa: E402
from edgelab.config.waf import WafOptions  # noqa: E402
from edgelab.edge.artifacts import Artifact, ArtifactRegistry  # noqa: E402
from edgelab.edge.exchange import ClientRequest, Exchange  # noqa: E402
from edgelab.edge.server import EdgeServer  # noqa: E402
from edgelab.edge.stages.waf import WafStage  # noqa: E402
from edgelab.origin.profile import OriginProfile  # noqa: E402
from edgelab.origin.server import OriginServer  # noqa: E402
from edgelab.policy.waf import compiled_modules  # noqa: E402
from edgelab.policy.waf.regex import compile_regex  # noqa: E402
from edgelab.policy.waf.rules import incident_2019_pattern, named_ruleset_document  # noqa: E402
from edgelab.testing.servers import running  # noqa: E402
from edgelab.testing.waf_corpus import BROWSER_UAS, COMMENTS, COOKIES  # noqa: E402

GET_HEADERS = {
    "Host": "shop.example.com",
    "User-Agent": BROWSER_UAS[0],
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
    "Referer": "https://shop.example.com/category/kitchen/coffee",
    "Cookie": COOKIES[0] + "; " + COOKIES[3],
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Upgrade-Insecure-Requests": "1",
}


def form_64k() -> bytes:
    """A 64 KiB urlencoded form of free text: 89 fields of 12 comments each, every field a
    different draw (a form whose fields repeat would flatter a WAF that scans each distinct
    value once)."""
    fields: dict[str, str] = {}
    i = 0
    while len(urlencode(fields)) < 64 * 1024:
        fields[f"field_{i}"] = " ".join(random.Random(i).sample(COMMENTS, 12))
        i += 1
    assert len(set(fields.values())) == len(fields)
    return urlencode(fields).encode()[: 64 * 1024].rsplit(b"&", 1)[0]


def exchange(method: str, target: str, headers: dict[str, str], body: bytes | None) -> Exchange:
    path, _, query = target.partition("?")
    h = CIMultiDict(headers)
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        h["Content-Length"] = str(len(body))
    req = ClientRequest(method, path, query, h, "198.51.100.7", body=body, content_length=None)
    return Exchange(req, pop="bench", ray_id="0" * 16 + "-bench")


def typical_get(i: int) -> tuple[str, dict[str, str]]:
    """A browser GET whose query, session cookie and referer are new on every request."""
    headers = dict(
        GET_HEADERS,
        Cookie=f"sid={i * 2654435761 % 2**32:08x}{i:06d}; {COOKIES[3]}",
        Referer=f"https://shop.example.com/search?q=coffee+grinder+{i}&page={i % 7}",
    )
    return f"/products/{1000 + i}?ref=search&q=burr+grinder+{i}", headers


EXCLUSIONS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "elsewhere": [
        {"tags": ["xss"], "path_prefix": "/community/posts", "targets": ["args:body"]},
        {"rules": [942100], "hosts": ["forum.example.com"]},
        {"tags": ["rce", "xss"], "path_prefix": "/admin/settings", "methods": ["POST"]},
    ],
    "applies": [
        {"tags": ["sqli"], "path_prefix": "/products", "targets": ["args:q"]},
        {"tags": ["xss"], "path_prefix": "/community/posts", "targets": ["args:body"]},
        {"rules": [942100], "hosts": ["forum.example.com"]},
    ],
}
"""Per-site exclusions `--exclusions` adds to the WAF config (none, some that do not apply to
the benchmark's requests, or one that does)."""


async def stage_p50(
    engine: str,
    kind: str,
    body: bytes | None,
    runs: int,
    exclusions: str = "none",
    warmup: int = 50,
    callgrind: bool = False,
) -> tuple[float, float, bool]:
    config: dict[str, Any] = {"regex_engine": engine}
    if EXCLUSIONS[exclusions]:
        config["exclusions"] = EXCLUSIONS[exclusions]
    options = WafOptions.model_validate(config)
    stage = WafStage(options, ArtifactRegistry())
    waf = stage.state.engine
    blocked = False
    wall, cpu = [], []
    for i in range(runs + warmup):
        if callgrind and i == warmup:
            _callgrind("on")
        if kind == "form":
            ex = exchange("POST", "/contact", GET_HEADERS, body)
        elif kind == "repeat":
            ex = exchange("GET", REPEAT_TARGET, GET_HEADERS, None)
        else:
            ex = exchange("GET", *typical_get(i), None)  # type: ignore[misc]
            if kind == "cold":
                waf.forget()
        t0, c0 = time.perf_counter(), time.process_time()
        pending = stage.request(ex)  # a coroutine only when it reads a body
        if pending is not None:
            await pending
        if i >= warmup:  # the first ones warm up the automata and the memos
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
        blocked = blocked or ex.response is not None
    if callgrind:
        _callgrind("off")
    return statistics.median(wall), statistics.median(cpu), blocked


def _callgrind(state: str) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True)


REPEAT_TARGET = "/products/espresso-machine-pro-2?ref=home&utm_source=newsletter"


async def per_request(runs: int) -> None:
    body = form_64k()
    print("1. per-request WAF stage cost, default managed ruleset, paranoia 1 (p50)")
    print(
        "   (wall-clock p50, and CPU time p50 of this thread, which a busy machine inflates less)"
    )
    for engine in ("re2", "re"):
        for kind in ("repeat", "typical", "cold", "form"):
            n = max(20, runs // 50) if kind == "form" else runs
            wall, cpu, blocked = await stage_p50(engine, kind, body, n)
            size = f" ({len(body)} B)" if kind == "form" else ""
            print(
                f"   {engine:<4} {kind:<8}{size:<10} p50 {wall * 1e6:9.1f} us "
                f"(cpu {cpu * 1e6:9.1f} us)   blocked: {blocked}"
            )


def growth() -> None:
    print("2. the 2019-07-02 pattern, one search on '-' * n (no '=' anywhere: the worst case)")
    pattern = incident_2019_pattern()
    for engine in ("re", "re2"):
        p = compile_regex(pattern, engine)  # type: ignore[arg-type]
        previous = None
        for n in (25, 50, 75, 100, 125, 150):
            t0 = time.perf_counter()
            p.search("-" * n)
            took = time.perf_counter() - t0
            ratio = f"x{took / previous:6.1f}" if previous else "       "
            print(f"   {engine:<4} n={n:<4} {took * 1e3:10.3f} ms  {ratio}")
            previous = took


@contextlib.asynccontextmanager
async def edge_for(engine: str, ruleset: bytes | None = None) -> AsyncIterator[str]:
    """A real origin and edge (the WAF on, `engine`, `ruleset` pushed if given): the proxy URL."""
    profile = OriginProfile.model_validate(
        {"seed": 1, "capacity": {"service_time": {"distribution": "fixed", "mean_ms": 0}}}
    )
    async with running(OriginServer(profile)) as origin:
        config = EdgeConfig.model_validate(
            {"origin": origin.addresses["http"], "waf": {"regex_engine": engine}}
        )
        async with running(EdgeServer(config)) as edge:
            if ruleset is not None:
                edge.artifacts.apply(Artifact("waf-rules", 1, ruleset))
            yield edge.addresses["proxy"]


async def benign_during(
    http: aiohttp.ClientSession, proxy: str, bad: Callable[[], Awaitable[str]]
) -> tuple[str, float, list[float]]:
    """What `bad()` says and how long it took, and the latencies of a benign client fetching a
    page meanwhile (it starts 0.3 s before and stops 0.3 s after)."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def benign() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            async with http.get(f"{proxy}/page/1") as r:
                await r.read()
            latencies.append(time.perf_counter() - t0)

    pinger = asyncio.create_task(benign())
    await asyncio.sleep(0.3)
    before = len(latencies)
    t0 = time.perf_counter()
    said = await bad()
    took = time.perf_counter() - t0
    await asyncio.sleep(0.3)
    done.set()
    await pinger
    return said, took, latencies[before:]


async def stall(engine: str, n: int) -> None:
    async with edge_for(engine, named_ruleset_document("2019-07-02")) as proxy:
        async with aiohttp.ClientSession() as http:

            async def bad() -> str:
                async with http.get(f"{proxy}/search?x=" + "-" * n) as r:
                    return str(r.status)

            status, took, during = await benign_during(http, proxy, bad)
            print(
                f"   {engine:<4} bad request ({n} chars) answered {status} after {took * 1e3:8.1f} ms; benign requests meanwhile: max {max(during) * 1e3:8.1f} ms, p50 {statistics.median(during) * 1e3:6.1f} ms"
            )


async def fragment_flood(draws: int) -> None:
    """Section 4, end to end: one client POSTs `draws` bodies of attack fragments back to back
    (a fresh draw each, made beforehand: drawing one takes ~27 ms of this process's loop, which
    the benign client would wait for too) while a benign client fetches a page."""
    bodies = [fragments_form(10_000 + seed) for seed in range(draws)]
    async with edge_for("re2") as proxy, aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}

        async def bad() -> str:
            statuses = []
            for body in bodies:
                async with http.post(f"{proxy}/contact", data=body, headers=headers) as r:
                    statuses.append(r.status)
            return ",".join(sorted({str(s) for s in statuses}))

        statuses, took, during = await benign_during(http, proxy, bad)
        print(
            f"   through a real edge: {draws} such POSTs back to back, answered {statuses}, "
            f"{took / draws * 1e3:6.1f} ms each; a benign client's page meanwhile: "
            f"p50 {statistics.median(during) * 1e3:6.1f} ms, max {max(during) * 1e3:6.1f} ms"
        )


FRAGMENTS = (
    "select union from where or and 1=1 ' \" -- # /* */ <script> <img src=x onerror= "
    "javascript: ../ ..\\ /etc/passwd cmd.exe ; | $( ` ${ %00 <svg onload= alert( "
    "document.cookie eval( exec( sleep( benchmark( waitfor delay char( concat( 0x41 "
    "@@version information_schema"
).split()


def fragments_form(seed: int, size: int = 64 * 1024) -> bytes:
    """A form whose one field is `size` bytes of attack fragments in a random order: text of
    which each stretch may be the start of many patterns at once (what makes an automaton of
    many patterns build new states byte after byte)."""
    rnd = random.Random(seed)
    parts: list[str] = []
    length = 0
    while length < size:
        part = rnd.choice(FRAGMENTS) + rnd.choice(("", " ", "  ", "\n", "(", ")", "=", ","))
        parts.append(part)
        length += len(part)
    return urlencode({"comment": "".join(parts)[:size]}).encode()


async def worst_case(draws: int) -> None:
    """Section 4: CPU per request for a fresh draw of `fragments_form` every request (a
    different text each time, as an attacker would send), after two warm-up draws."""
    print("4. 64 KiB of attack fragments in one form field, a fresh draw every request (CPU)")
    options = WafOptions.model_validate({"regex_engine": "re2", "mode": "log"})
    stage = WafStage(options, ArtifactRegistry())
    cpu = []
    for seed in range(draws + 2):
        ex = exchange("POST", "/contact", GET_HEADERS, fragments_form(seed))
        c0 = time.process_time()
        pending = stage.request(ex)
        if pending is not None:
            await pending
        if seed >= 2:
            cpu.append(time.process_time() - c0)
    print(
        f"   re2  p50 {statistics.median(cpu) * 1e3:8.1f} ms   max {max(cpu) * 1e3:8.1f} ms"
        f"   ({draws} draws)"
    )
    await fragment_flood(draws)


def calibration_s() -> float:
    """A fixed pure-Python loop, so readers can compare this machine's speed with theirs."""
    t0 = time.perf_counter()
    x = 0
    for i in range(1_000_000):
        x += i * i
    return time.perf_counter() - t0


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--stall-chars", type=int, default=150)
    ap.add_argument("--skip-stall", action="store_true")
    ap.add_argument("--draws", type=int, default=8, help="section 4's fresh attack bodies")
    ap.add_argument("--worst-only", action="store_true", help="only section 4")
    ap.add_argument(
        "--instructions",
        choices=("repeat", "typical", "cold", "form"),
        help="only this kind's stage loop, with callgrind's instrumentation on around it",
    )
    ap.add_argument("--exclusions", choices=tuple(EXCLUSIONS), default="none")
    ap.add_argument("--engine", choices=("re2", "re"), default="re2")
    args = ap.parse_args()
    if args.instructions:
        body = form_64k() if args.instructions == "form" else None
        _, _, blocked = await stage_p50(
            args.engine, args.instructions, body, args.runs, args.exclusions, 3000, True
        )
        print(f"{args.instructions} x{args.runs}, exclusions {args.exclusions}: blocked {blocked}")
        return
    if args.worst_only:
        await worst_case(args.draws)
        return
    print(f"0. calibration: a 1M-iteration Python loop took {calibration_s():.3f} s here")
    compiled = compiled_modules()
    print(
        "   WAF modules: "
        + (f"compiled with mypyc ({', '.join(compiled)})" if compiled else "plain Python")
        + " (setup.py; `EDGELAB_PURE=1 make compile` for plain Python)"
    )
    await per_request(args.runs)
    growth()
    await worst_case(args.draws)
    if not args.skip_stall:
        print("3. the stall through a real edge (2019 ruleset pushed, simulate/log mode)")
        for engine in ("re2", "re"):
            await stall(engine, args.stall_chars)


if __name__ == "__main__":
    asyncio.run(main())
