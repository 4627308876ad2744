"""Directions and the chunk queue: end-of-stream past the limit, the reader's resume hook."""

from __future__ import annotations

import pytest

from edgelab.faultproxy.stream import Chunk, ChunkQueue, Direction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("upstream", Direction.upstream),
        ("DownStream", Direction.downstream),
        ("sideways", None),
        ("", None),
    ],
)
def test_direction_parse(text: str, expected: Direction | None) -> None:
    assert Direction.parse(text) == expected


async def test_force_put_goes_past_the_limit_in_order() -> None:
    q = ChunkQueue(1)
    q.put_nowait(Chunk(b"a", 0.0))
    q.force_put(Chunk(b"b", 0.0))
    q.force_put(None)
    assert [q.get_nowait(), q.get_nowait(), q.get_nowait()] == [
        Chunk(b"a", 0.0),
        Chunk(b"b", 0.0),
        None,
    ]


async def test_on_space_fires_once_when_an_item_is_taken() -> None:
    q = ChunkQueue(1)
    calls: list[int] = []
    q.put_nowait(Chunk(b"a", 0.0))
    q.on_space = lambda: calls.append(1)
    q.get_nowait()
    q.put_nowait(Chunk(b"b", 0.0))
    q.get_nowait()
    assert calls == [1]


async def test_direct_shortcut_only_for_an_empty_queue() -> None:
    q = ChunkQueue(4)
    taken: list[bytes] = []
    q.direct = lambda chunk: taken.append(chunk.data) is None
    q.put_nowait(Chunk(b"now", 0.0))  # empty queue: handled at once
    q.direct = lambda chunk: False
    q.put_nowait(Chunk(b"queued", 0.0))
    q.direct = lambda chunk: taken.append(chunk.data) is None
    q.put_nowait(Chunk(b"after", 0.0))  # not empty: queued behind, order kept
    q.put_nowait(None)  # end of stream is always queued
    assert taken == [b"now"] and q.qsize() == 3
