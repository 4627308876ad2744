"""The edge's Prometheus series, fed from one record per Exchange (data flows one way).

The series bumped on every request (`edgelab_edge_requests_total`, `..._request_seconds`) are
plain-number tallies (`edgelab.edge.tally`), the rest ordinary prometheus_client metrics.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from edgelab.edge.exchange import Exchange
from edgelab.edge.tally import Count, CounterTally, HistogramTally

if TYPE_CHECKING:
    from edgelab.edge.listener import ProxyListener


class EdgeMetrics:
    def __init__(self, registry: CollectorRegistry, pop: str, cdn: str) -> None:
        self.registry = registry
        self.requests = CounterTally(
            "edgelab_edge_requests",
            "Requests answered, by status and by what served them",
            ["status", "path_taken"],
            registry=registry,
        )
        self.duration = HistogramTally(
            "edgelab_edge_request_seconds",
            "Time from request to response headers",
            registry=registry,
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
        )
        self.upstream_errors = Counter(
            "edgelab_edge_upstream_errors",
            "Origin errors, by status answered (502/504)",
            ["status"],
            registry=registry,
        )
        self.stage_errors = Counter(
            "edgelab_edge_stage_errors",
            "Requests answered 500 because a stage failed",
            ["stage"],
            registry=registry,
        )
        self.in_flight = 0
        """Requests being handled: a plain count (no lock per request), read at scrape time."""
        Gauge("edgelab_edge_in_flight", "Requests being handled", registry=registry).set_function(
            lambda: self.in_flight
        )
        self.client_connections = Gauge(
            "edgelab_edge_client_connections", "Open client connections", registry=registry
        )
        self.client_connections_closed = Counter(
            "edgelab_edge_client_connections_closed",
            "Client connections the edge closed to protect itself, by reason "
            "(head_timeout: slowloris; evicted: idle, pushed out at the cap; refused: cap reached "
            "with every connection busy)",
            ["reason"],
            registry=registry,
        )
        info = Gauge("edgelab_edge_info", "This POP", ["pop", "cdn"], registry=registry)
        info.labels(pop, cdn).set(1)
        self._request_children: dict[tuple[int, str], Count] = {}
        """(status, path_taken) -> labelled child: `labels()` costs more than `inc()`."""

    def watch_upstream(self, upstream: object) -> None:
        """Report the upstream pool's connections, if the `Upstream` keeps count of them."""
        if hasattr(upstream, "open_connections") and hasattr(upstream, "idle_connections"):
            pool = Gauge(
                "edgelab_edge_upstream_connections",
                "Connections to the origin, by state (busy: carrying a request)",
                ["state"],
                registry=self.registry,
            )
            pool.labels("idle").set_function(lambda: upstream.idle_connections)
            pool.labels("busy").set_function(
                lambda: upstream.open_connections - upstream.idle_connections
            )

    def watch_connections(self, server: ProxyListener) -> None:
        """Report `server`'s open client connections (the proxy listener, once started)."""
        self.client_connections.set_function(lambda: server.open_connections)

    def client_closed(self, reason: str) -> None:
        self.client_connections_closed.labels(reason).inc()

    def record(self, ex: Exchange, elapsed_s: float) -> None:
        status = ex.response.status if ex.response is not None else 0
        key = (status, ex.path_taken)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(str(status), ex.path_taken)
        child.value += 1  # Count.inc and HistogramTally.observe, inlined (every request)
        duration = self.duration
        duration.counts[bisect_left(duration.bounds, elapsed_s)] += 1
        duration.sum += elapsed_s
        for v in ex.verdicts:
            if v.action == "error":
                if v.stage == "origin":
                    self.upstream_errors.labels(str(status)).inc()
                else:
                    self.stage_errors.labels(v.stage).inc()
