"""Per-second /metrics scrapes of every lab process into metrics.jsonl, while a variant runs.

Only `edgelab_*` samples are kept (histogram buckets dropped): what reports chart, small enough
to keep a line per process per second.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from edgelab.chaos.context import LabView

SCRAPE_INTERVAL_S = 1.0


def parse_samples(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith("edgelab_") or s.name.endswith(("_bucket", "_created")):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


async def scrape_forever(lab: LabView, out: Path, http: aiohttp.ClientSession) -> None:
    """Append one line per process per second to `out` until cancelled."""
    targets = [(p.name, f"{p.ops_base}/metrics") for p in lab.processes.values() if p.ops_base]
    timeout = aiohttp.ClientTimeout(total=SCRAPE_INTERVAL_S * 0.9)

    async def one(name: str, url: str) -> str | None:
        try:
            async with http.get(url, timeout=timeout) as r:
                text = await r.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        return json.dumps(
            {"ts": round(time.time(), 3), "process": name, "samples": parse_samples(text)}
        )

    with out.open("a", encoding="utf-8") as f:
        next_at = time.monotonic()
        while True:
            lines = await asyncio.gather(*(one(n, u) for n, u in targets))
            f.writelines(line + "\n" for line in lines if line)
            f.flush()
            next_at += SCRAPE_INTERVAL_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
