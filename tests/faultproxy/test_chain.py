"""Decoding toxic bodies: defaults, Toxiproxy's check order, Go's typing rules (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from edgelab.faultproxy.chain import ToxicCollection
from edgelab.faultproxy.errors import BadRequestBody, InvalidStream, InvalidToxicType, ToxicExists
from edgelab.faultproxy.stream import Direction
from edgelab.faultproxy.toxics.base import with_attributes
from edgelab.faultproxy.toxics.latency import LatencyToxic
from edgelab.faultproxy.toxics.packet_loss import PacketLossToxic


def test_defaults() -> None:
    spec = ToxicCollection().parse({"type": "latency"})
    assert (spec.name, spec.stream, spec.direction, spec.toxicity) == (
        "latency_downstream",
        "downstream",
        Direction.downstream,
        1.0,
    )
    assert spec.toxic == LatencyToxic()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("text", BadRequestBody),
        ({"type": 3}, BadRequestBody),
        ({"type": "nope", "stream": "x"}, InvalidStream),  # stream is checked before type
        ({"type": "nope"}, InvalidToxicType),
        ({"type": "latency", "attributes": {"latency": "x"}}, BadRequestBody),
    ],
)
def test_errors(body: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        ToxicCollection().parse(body)


async def test_duplicate_names_span_both_directions() -> None:
    toxics = ToxicCollection()
    await toxics.add({"type": "latency", "name": "x", "stream": "upstream"})
    with pytest.raises(ToxicExists):
        toxics.parse(
            {"type": "slicer", "name": "x", "stream": "downstream", "attributes": {"x": "ignored"}}
        )
    with pytest.raises(ToxicExists):  # duplicate is checked before attributes
        toxics.parse({"type": "latency", "name": "x", "attributes": {"latency": "bad"}})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, LatencyToxic(10, 2)),
        (None, LatencyToxic(10, 2)),
        ({"latency": 5}, LatencyToxic(5, 2)),
        ({"jitter": None, "unknown": "x"}, LatencyToxic(10, 2)),
    ],
)
def test_attributes_merge(given: Any, expected: LatencyToxic) -> None:
    assert with_attributes(LatencyToxic(10, 2), given) == expected


@pytest.mark.parametrize("value", [True, 1.5, "1", [1], {"a": 1}])
def test_integer_attributes_refuse_other_json_types(value: Any) -> None:
    with pytest.raises(BadRequestBody, match="cannot unmarshal"):
        with_attributes(LatencyToxic(), {"latency": value})


def test_float_attributes_take_integers() -> None:
    assert with_attributes(PacketLossToxic(), {"loss_rate": 1}) == PacketLossToxic(1.0, 0.0)
