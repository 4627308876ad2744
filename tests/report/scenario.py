"""One hand-made run of three variants whose right answers are worked out in the comments.

Load runs 30 s from T0; the fault is [10, 20). Ten users' requests a second.

- `none`: half of the requests in the fault fail with 500 and the failures last 3 s past it
  (seconds 20-22 fail too): availability in window 50/100, overall (200-30... see below).
  An edge rejects the bad artifact 1 s into the fault (mitigation by artifact-rejected).
- `dns-failover`: 5 of 10 fail in seconds 10-12, then traffic moves origin-direct at 13 and
  everything works: in window 85/100; the origin goes from 10/s to 60/s (6x) with capacity
  4 workers / 100 ms = 40/s (1.5x); 30 attack requests reach it; a probe deviates at 12.5.
- `serve-stale`: nothing fails; no origin metrics (so no origin numbers, attacks from csv).
"""

from __future__ import annotations

from pathlib import Path

from tests.report.factory import T0, RunBuilder, steady_traffic


def origin_key(status: str = "200") -> str:
    return f'edgelab_origin_requests_total{{route="page",status="{status}"}}'


def build(path: Path, *, status: str = "complete") -> RunBuilder:
    run = RunBuilder(path, status=status)

    none = run.variant("none", workers=4, queue=16, mean_service_ms=100)
    run.timeline("none", fault=(10, 20), load_s=30)
    # failing: 5/10 in seconds 10..19, all 10 in 20..22 -> in window 50 ok / 100;
    # overall ok = 200 - 30 (20..22) + 50 = 220... outside seconds: 0..9 and 23..29 = 17 s ok (170)
    # plus 20..22 all failing (0): ok = 170 + 50 = 220 of 300.
    steady_traffic(
        none, seconds=30, failing={**{s: 5 for s in range(10, 20)}, 20: 10, 21: 10, 22: 10}
    )
    # a retry: the first attempt (connection error) is not what the user saw
    none.request(T0 + 5.5, status=0, attempt=1, final=False)
    outcomes = "edgelab_edge_artifact_outcomes_total"
    applied = outcomes + '{kind="bot-features",outcome="applied"}'
    rejected = outcomes + '{kind="bot-features",outcome="rejected"}'
    none.scrape(T0 + 9, "edge-a-1", {applied: 0})
    none.scrape(T0 + 10, "edge-a-1", {applied: 1, rejected: 0})  # applied before: not a rejection
    none.scrape(T0 + 11, "edge-a-1", {applied: 1, rejected: 1})
    none.scrape(T0 + 12, "edge-a-1", {applied: 1, rejected: 1})

    dns = run.variant("dns-failover", workers=4, queue=16, mean_service_ms=100)
    run.timeline("dns-failover", fault=(10, 20), load_s=30)
    run.event("probe", T0 + 5, variant="dns-failover", name="edge-healthy", status="ok")
    run.event("probe", T0 + 12.5, variant="dns-failover", name="edge-healthy", status="deviated")
    steady_traffic(
        dns,
        seconds=30,
        failing={10: 5, 11: 5, 12: 5},
        path_at={13: "origin-direct", 20: "edge-a"},
        slow=(10, 20),
    )
    rates = [60.0 if 10 <= s < 20 else 10.0 for s in range(30)]
    dns.counter("origin", origin_key("200"), [r - 6 if r == 60 else r for r in rates])
    dns.counter("origin", origin_key("503"), [6.0 if r == 60 else 0.0 for r in rates])
    shed = "edgelab_origin_shed_total"
    dns.counter("origin", shed + '{reason="queue_full"}', [5.0 if r == 60 else 0.0 for r in rates])
    dns.counter(
        "origin", shed + '{reason="queue_timeout"}', [1.0 if r == 60 else 0.0 for r in rates]
    )
    dns.counter(
        "origin",
        'edgelab_origin_attack_requests_total{route="search"}',
        [3.0 if r == 60 else 0.0 for r in rates],
    )
    edge = "edgelab_edge_requests_total"
    dns.counter("edge-a-1", edge + '{status="200",path_taken="cache"}', [30.0] * 30)
    dns.counter("edge-a-1", edge + '{status="200",path_taken="origin"}', [10.0] * 30)
    dns.counter("edge-a-1", 'edgelab_edge_upstream_errors_total{status="504"}', [0.0] * 29 + [2])
    for k in range(0, 31, 10):
        dns.scrape(
            T0 + k, "edge-a-1", {'edgelab_edge_artifact_version{kind="bot-features"}': k // 10}
        )

    stale = run.variant("serve-stale")
    run.timeline("serve-stale", fault=(10, 20), load_s=30)
    steady_traffic(stale, seconds=30)
    for s in range(10, 20):  # two direct attacks a second, one without an answer
        stale.request(T0 + s + 0.5, path="origin-direct", user="attacker", attack=True)
        stale.request(T0 + s + 0.6, path="origin-direct", user="attacker", attack=True, status=0)
    run.write()
    return run
