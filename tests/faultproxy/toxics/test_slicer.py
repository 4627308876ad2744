"""slicer: pieces near `average_size`, in order, nothing lost (pure and on real sockets)."""

from __future__ import annotations

import random

import pytest

from edgelab.faultproxy.toxics.slicer import SlicerToxic
from edgelab.testing.servers import running
from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, read_exactly


@pytest.mark.parametrize(
    ("size", "average", "variation"),
    [(1000, 100, 0), (1000, 100, 30), (7, 3, 1), (50, 100, 10), (1, 1, 0)],
)
def test_boundaries_cover_the_chunk_in_small_pieces(
    size: int, average: int, variation: int
) -> None:
    cuts = SlicerToxic(average_size=average, size_variation=variation).boundaries(
        size, random.Random(1)
    )
    assert cuts[0] == 0 and cuts[-1] == size and cuts == sorted(set(cuts))
    pieces = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    assert all(0 < p <= average + variation for p in pieces)
    if size > average + variation:
        assert len(pieces) > 1


def test_zero_average_passes_chunks_whole() -> None:
    assert SlicerToxic().boundaries(500, random.Random(1)) == [0, 500]


async def test_upstream_reads_arrive_sliced(api: Api, connect: Connect) -> None:
    async with running(EchoServer(record=True)) as echo:
        proxy = await api.proxy("p", echo.address)
        await api.toxic(
            "p", type="slicer", stream="upstream", attributes={"average_size": 100, "delay": 20000}
        )
        reader, writer = await connect(proxy["listen"])
        payload = bytes(range(256)) * 4
        writer.write(payload)
        assert await read_exactly(reader, len(payload)) == payload
        assert b"".join(echo.reads) == payload
        assert len(echo.reads) >= 4  # 1024 bytes in pieces of at most 100, 20 ms apart
