"""Per-proxy Prometheus series, read from the proxies at scrape time (no per-chunk cost).

    registry.register(ProxyMetrics(collection))

Byte counters use Toxiproxy's names and labels (`toxiproxy_proxy_received_bytes_total`,
`toxiproxy_proxy_sent_bytes_total`; `direction`, `proxy`, `listener`, `upstream`), so dashboards
work against either server; unlike Toxiproxy they include connections still open.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edgelab.faultproxy.collection import ProxyCollection


class ProxyMetrics(Collector):
    """Connections, bytes each way, enabled state and active toxics, per proxy."""

    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    def collect(self) -> Iterator[Metric]:
        labels = ["direction", "proxy", "listener", "upstream"]
        received = CounterMetricFamily(
            "toxiproxy_proxy_received_bytes",
            "Bytes read from the source, per direction",
            labels=labels,
        )
        sent = CounterMetricFamily(
            "toxiproxy_proxy_sent_bytes",
            "Bytes written to the destination, per direction",
            labels=labels,
        )
        connections = CounterMetricFamily(
            "edgelab_faultproxy_connections",
            "Connections proxied through to upstream",
            labels=["proxy"],
        )
        active = GaugeMetricFamily(
            "edgelab_faultproxy_connections_active", "Connections open now", labels=["proxy"]
        )
        enabled = GaugeMetricFamily(
            "edgelab_faultproxy_proxy_enabled", "1 while the proxy listens", labels=["proxy"]
        )
        toxics = GaugeMetricFamily(
            "edgelab_faultproxy_toxic_active",
            "1 for each toxic attached to the proxy",
            labels=["proxy", "toxic", "type", "stream"],
        )
        for proxy in list(self.collection.proxies.values()):
            total, got, put = proxy.totals()
            for direction in got:
                base = [direction.value, proxy.name, proxy.listen, proxy.upstream]
                received.add_metric(base, got[direction])
                sent.add_metric(base, put[direction])
            connections.add_metric([proxy.name], total)
            active.add_metric([proxy.name], len(proxy.connections))
            enabled.add_metric([proxy.name], 1 if proxy.enabled else 0)
            for spec in proxy.toxics.all():
                toxics.add_metric([proxy.name, spec.name, spec.type, spec.direction.value], 1)
        yield from (received, sent, connections, active, enabled, toxics)
