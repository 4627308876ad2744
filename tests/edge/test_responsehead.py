"""Response head serialisation and body framing (edge/responsehead.py)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.edge.responsehead import (
    LAST_CHUNK,
    FieldBlock,
    chunk,
    field_block,
    http_date,
    response_head,
    stored_response_head,
)


def fields(data: bytes) -> list[tuple[str, str]]:
    lines = data.decode().split("\r\n")
    assert data.endswith(b"\r\n\r\n")
    return [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]


def names(data: bytes) -> list[str]:
    return [k.lower() for k, _ in fields(data)]


def base() -> CIMultiDict[str]:
    return CIMultiDict([("Content-Type", "text/plain"), ("X-Cache", "HIT")])


def test_a_whole_body_gets_its_length_and_the_head_is_one_block() -> None:
    head = response_head(200, base(), head_request=False, version="1.1", keep_alive=True, length=5)
    assert head.data.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Cache: HIT\r\n")
    assert ("Content-Length", "5") in fields(head.data)
    assert "connection" not in names(head.data)
    assert "date" in names(head.data)
    assert head.send_body and not head.chunked and head.keep_alive


def test_framing_fields_from_the_headers_are_replaced_by_the_listeners() -> None:
    headers = base()
    headers.add("content-length", "999")
    headers.add("Transfer-Encoding", "chunked")
    headers.add("Keep-Alive", "timeout=5")
    head = response_head(200, headers, head_request=False, version="1.1", keep_alive=True, length=3)
    assert [v for k, v in fields(head.data) if k.lower() == "content-length"] == ["3"]
    assert "transfer-encoding" not in names(head.data)
    assert "keep-alive" not in names(head.data)


@pytest.mark.parametrize("status", [204, 304, 101])
def test_204_304_and_1xx_have_neither_body_nor_length(status: int) -> None:
    headers = base()
    headers["Content-Length"] = "10"
    head = response_head(
        status, headers, head_request=False, version="1.1", keep_alive=True, length=0
    )
    assert not head.send_body
    assert "content-length" not in names(head.data)
    assert "transfer-encoding" not in names(head.data)


def test_head_keeps_the_length_the_get_would_have_had() -> None:
    headers = base()
    headers["Content-Length"] = "1024"
    head = response_head(200, headers, head_request=True, version="1.1", keep_alive=True, length=0)
    assert not head.send_body
    assert ("Content-Length", "1024") in fields(head.data)
    stored = response_head(200, base(), head_request=True, version="1.1", keep_alive=True, length=7)
    assert ("Content-Length", "7") in fields(stored.data) and not stored.send_body
    streamed = response_head(
        200, base(), head_request=True, version="1.1", keep_alive=True, length=None
    )
    assert "transfer-encoding" not in names(streamed.data) and streamed.keep_alive


def test_a_streamed_body_is_chunked_for_1_1_and_close_delimited_for_1_0() -> None:
    h11 = response_head(
        200, base(), head_request=False, version="1.1", keep_alive=True, length=None
    )
    assert h11.chunked and ("Transfer-Encoding", "chunked") in fields(h11.data) and h11.keep_alive
    h10 = response_head(
        200, base(), head_request=False, version="1.0", keep_alive=True, length=None
    )
    assert not h10.chunked and not h10.keep_alive
    assert ("Connection", "close") in fields(h10.data)
    declared = response_head(
        200,
        base(),
        head_request=False,
        version="1.1",
        keep_alive=True,
        length=None,
        declared_length=42,
    )
    assert not declared.chunked and ("Content-Length", "42") in fields(declared.data)


def test_connection_field() -> None:
    closing = base()
    closing["Connection"] = "close"
    head = response_head(400, closing, head_request=False, version="1.1", keep_alive=True, length=1)
    assert not head.keep_alive and [v for k, v in fields(head.data) if k == "Connection"] == [
        "close"
    ]
    h10 = response_head(200, base(), head_request=False, version="1.0", keep_alive=True, length=1)
    assert ("Connection", "keep-alive") in fields(h10.data) and h10.keep_alive
    no = response_head(200, base(), head_request=False, version="1.1", keep_alive=False, length=1)
    assert ("Connection", "close") in fields(no.data)


def test_a_line_break_in_a_value_is_refused_not_sent() -> None:
    for bad in ("a\r\nSet-Cookie: x=1", "a\nb", "a\rb"):
        headers = base()
        headers["X-Evil"] = bad
        with pytest.raises(ValueError, match="CR or LF"):
            response_head(
                200, headers, head_request=False, version="1.1", keep_alive=True, length=0
            )


def test_defaults_the_edge_adds() -> None:
    headers: CIMultiDict[str] = CIMultiDict([("Date", "Thu, 01 Jan 1970 00:00:00 GMT")])
    head = response_head(200, headers, head_request=False, version="1.1", keep_alive=True, length=2)
    assert [v for k, v in fields(head.data) if k == "Date"] == ["Thu, 01 Jan 1970 00:00:00 GMT"]
    assert ("Content-Type", "application/octet-stream") in fields(head.data)
    assert http_date().endswith(" GMT")
    odd = response_head(599, base(), head_request=False, version="1.1", keep_alive=True, length=0)
    assert odd.data.startswith(b"HTTP/1.1 599 ")


def test_chunks() -> None:
    assert chunk(b"hello") + LAST_CHUNK == b"5\r\nhello\r\n0\r\n\r\n"


def stored_block() -> FieldBlock:
    block = field_block(
        CIMultiDict(
            [("Cache-Control", "max-age=60"), ("Content-Type", "text/css"), ("ETag", '"e"')]
        )
    )
    assert block is not None
    return block


@pytest.mark.parametrize("head_request", [False, True])
@pytest.mark.parametrize(("version", "keep_alive"), [("1.1", True), ("1.1", False), ("1.0", True)])
def test_a_stored_head_is_byte_for_byte_the_head_of_the_merged_fields(
    head_request: bool, version: str, keep_alive: bool
) -> None:
    block = stored_block()
    added = {"age": ("Age", "3"), "via": ("Via", "1.1 p (edgelab)")}
    merged = block.headers.copy()
    merged.extend(list(added.values()))
    opts = dict(head_request=head_request, version=version, keep_alive=keep_alive, length=7)
    stored = stored_response_head(200, block, added, **opts)  # type: ignore[arg-type]
    plain = response_head(200, merged, **opts)  # type: ignore[arg-type]
    assert (stored.data, stored.send_body, stored.chunked, stored.keep_alive) == (
        plain.data,
        plain.send_body,
        plain.chunked,
        plain.keep_alive,
    )
    assert names(stored.data)[:5] == ["cache-control", "content-type", "etag", "age", "via"]


def test_a_stored_head_refuses_cr_or_lf_in_an_added_value() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        stored_response_head(
            200,
            stored_block(),
            {"x-a": ("X-A", "1\r\nSet-Cookie: a=b")},
            head_request=False,
            version="1.1",
            keep_alive=True,
            length=0,
        )


@pytest.mark.parametrize(
    "field",
    [
        ("Content-Length", "3"),
        ("Connection", "close"),
        ("Transfer-Encoding", "chunked"),
        ("Keep-Alive", "timeout=5"),
        ("Age", "4"),
        ("Cache-Status", "up; hit"),
        ("X-Cache", "HIT"),
        ("X-Bad", "a\r\nb"),
    ],
)
def test_fields_the_listener_or_each_hit_sets_are_never_joined_in_advance(
    field: tuple[str, str],
) -> None:
    assert field_block(CIMultiDict([("ETag", '"e"'), field])) is None
