"""Prometheus counters and a histogram kept as plain numbers, for series bumped on every request.

    requests = CounterTally("edgelab_edge_requests", "Requests answered", ["status"], registry)
    ok = requests.labels("200")          # bind once, then per request:
    ok.inc()
    seconds = HistogramTally("edgelab_edge_request_seconds", "Time", (0.001, 0.01), registry)
    seconds.observe(0.0042)

A `prometheus_client` Counter takes a lock on every `inc` and a Histogram checks its labels and
walks its buckets in Python on every `observe`: a few microseconds per request, on a cache hit
that is the largest cost the edge has after the HTTP server itself (issue 3). The edge serves
from one event-loop thread and is scraped from the same thread, so these keep bare numbers and
build the metric families when scraped. The exposition is the same as the library's (`_total`,
`_created`, `_bucket{le}`, `_sum`, `_count`), so dashboards and `edgelab report` do not notice.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

_le = cast(Callable[[float], str], floatToGoString)
"""The `le` label text prometheus_client writes for a bound (untyped there)."""


class Count:
    """One labelled counter's value; `inc` as on a prometheus child."""

    __slots__ = ("value", "created")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (>= 0, unchecked: callers pass constants or counts)."""
        self.value += amount


class CounterTally:
    """A counter family with labels, `labels(...).inc()` like `prometheus_client.Counter`."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = name.removesuffix("_total")
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._counts: dict[tuple[str, ...], Count] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> Count:
        """The count for these label values (created at 0 on first use); keep it to skip the
        lookup on the hot path."""
        count = self._counts.get(values)
        if count is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
            count = self._counts[values] = Count()
        return count

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, count in list(self._counts.items()):
            family.add_metric(list(values), count.value, created=count.created)
        yield family


class HistogramTally:
    """An unlabelled histogram, `observe(v)` like `prometheus_client.Histogram`."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        registry: CollectorRegistry | None = None,
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(bounds)
        """Upper bounds (`le`), ending with +Inf."""
        self.counts = [0] * len(bounds)
        """Observations per bucket, not cumulative (summed when scraped)."""
        self.sum = 0.0
        self.created = time.time()
        if registry is not None:
            registry.register(self)

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, as `le` buckets count value <= bound.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation)
        cumulative, buckets = 0.0, []
        for bound, n in zip(self.bounds, list(self.counts), strict=True):
            cumulative += n
            buckets.append((_le(bound), cumulative))
        family.add_metric([], buckets, self.sum)
        family.add_sample(self.name + "_created", {}, self.created)
        yield family
