"""The seam with the chaos runner: metrics.jsonl lines as its scraper writes them, from our real
origin and edge, read back by the report (sample keys, `_total` names, label format)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from edgelab.chaos.scrape import parse_samples
from edgelab.edge.server import EdgeServer
from edgelab.origin.server import OriginServer
from edgelab.report import metrics as m
from edgelab.report.model import build_report_data
from edgelab.report.rundir import read_run_dir
from tests.report.factory import RunBuilder


async def test_real_scrapes_read_back(
    tmp_path: Path, origin: OriginServer, edge: EdgeServer, http: aiohttp.ClientSession
) -> None:
    targets = {"origin": origin.addresses["admin"], "edge-a-1": edge.addresses["admin"]}

    async def scrape_all() -> list[dict[str, object]]:
        lines = []
        for name, base in targets.items():
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
            lines.append({"ts": time.time(), "process": name, "samples": parse_samples(text)})
        return lines

    before = await scrape_all()
    for i in range(5):
        async with http.get(f"{edge.addresses['proxy']}/page/{i}") as r:
            assert r.status == 200
    async with http.get(
        f"{origin.addresses['http']}/search?q=1", headers={"X-Edgelab-Attack": "sqli"}
    ) as r:
        assert r.status == 200
    after = await scrape_all()

    run = RunBuilder(tmp_path / "run")
    v = run.variant("only")
    run.write()
    with (run.path / "variants" / "only" / "metrics.jsonl").open("w") as f:
        for line in before + after:
            f.write(json.dumps(line) + "\n")
    scrapes = read_run_dir(run.path).variants[0].scrapes
    assert m.counter_total(scrapes, m.ORIGIN_REQUESTS, m.is_origin) == 6
    assert m.counter_total(scrapes, m.EDGE_REQUESTS, m.is_edge, {"path_taken": "origin"}) == 5
    assert m.counter_total(scrapes, m.ORIGIN_ATTACKS, m.is_origin) == 1
    cap = m.origin_capacity({}, scrapes)
    assert cap.workers == origin.profile.capacity.workers and cap.mean_service_ms is not None
    assert v.name == build_report_data(read_run_dir(run.path)).summary.variants[0].name
