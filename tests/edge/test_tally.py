"""The plain-number tallies expose exactly what prometheus_client's Counter and Histogram do."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from edgelab.edge.tally import CounterTally, HistogramTally

BUCKETS = (0.0005, 0.001, 0.25, 1, 10)


def exposition(registry: CollectorRegistry) -> str:
    """The text format, with creation timestamps blanked (they differ by construction)."""
    text = generate_latest(registry).decode()
    return re.sub(r"(_created(?:\{[^}]*\})?) \S+", r"\1 T", text)


@pytest.mark.parametrize(
    "observations",
    [(), (0.0001,), (0.0005, 0.0005), (0.0007, 0.25, 3.0, 11.0, 1e9), (10.0,)],
)
def test_histogram_exposition_matches_prometheus_client(observations: tuple[float, ...]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = HistogramTally("x_seconds", "Time", BUCKETS, registry=ours)
    reference = Histogram("x_seconds", "Time", buckets=BUCKETS, registry=theirs)
    for v in observations:
        tally.observe(v)
        reference.observe(v)
    assert exposition(ours) == exposition(theirs)


def test_counter_exposition_matches_prometheus_client() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = CounterTally("x_requests", "Requests", ["status", "path"], registry=ours)
    reference = Counter("x_requests", "Requests", ["status", "path"], registry=theirs)
    for labels, n in ((("200", "cache"), 3), (("502", "origin"), 1), (("200", "origin"), 0)):
        bound = tally.labels(*labels)
        for _ in range(n):
            bound.inc()
        reference.labels(*labels).inc(n)
    assert exposition(ours) == exposition(theirs)


def test_names_are_claimed_in_the_registry_and_label_counts_checked() -> None:
    registry = CollectorRegistry()
    tally = CounterTally("x_requests", "Requests", ["status"], registry=registry)
    with pytest.raises(ValueError):
        Counter("x_requests", "again", registry=registry)
    with pytest.raises(ValueError):
        tally.labels("200", "cache")
