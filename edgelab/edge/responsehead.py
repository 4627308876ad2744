"""Serialise a response head for the client, and decide its body framing (RFC 9112 §6). Pure.

    head = response_head(200, headers, head_request=False, version="1.1", keep_alive=True,
                         length=len(body))
    head.data          # b"HTTP/1.1 200 OK\\r\\nContent-Type: ...\\r\\nContent-Length: 1024\\r\\n\\r\\n"
    head.send_body, head.chunked, head.keep_alive

One join of prebuilt strings and one encode per response: a cache hit pays for nothing else.
The framing fields (`Content-Length`, `Transfer-Encoding`, `Connection`, `Keep-Alive`) are the
listener's to decide, so copies of them in `headers` are dropped:

- HEAD, 1xx, 204 and 304 responses carry no body. 204/304 (and 1xx) never carry
  Content-Length; a HEAD response keeps the length the GET would have had (RFC 9110 §9.3.2).
- A body of known length gets Content-Length; a streamed body of unknown length is chunked for
  HTTP/1.1 and delimited by closing the connection for HTTP/1.0.
- `Connection: close` when the connection ends after this response, `keep-alive` for an
  HTTP/1.0 client that keeps it.
- `Date` when the response has none (RFC 9110 §6.6.1: an origin-like sender with a clock must).

A field value with CR or LF would let a response split in two; the head is refused
(`ValueError`) rather than sent. The check is one count over the joined head.

A cached response's fields are joined once (`field_block`, kept with the stored entry) and each
hit joins only the few fields it adds (`stored_response_head`).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from email.utils import formatdate
from http import HTTPStatus

from multidict import CIMultiDict

from edgelab.edge.fieldnames import (
    CONNECTION,
    CONTENT_LENGTH,
    CONTENT_TYPE,
    DATE,
    KEEP_ALIVE,
    TRANSFER_ENCODING,
)

_FRAMING = ("Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive")

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
"""The edge answers HTTP/1.1 whatever the client's 1.x (RFC 9110 §2.5), as nginx does."""


class ResponseHead:
    """A serialised head and how its body goes out. (Plain classes here and below, not
    NamedTuples: compiled (setup.py), they are made without a Python-level call.)"""

    def __init__(self, data: bytes, send_body: bool, chunked: bool, keep_alive: bool) -> None:
        self.data = data
        """The status line and fields, ending with the empty line."""
        self.send_body = send_body
        """False for HEAD, 1xx, 204 and 304: nothing follows the head."""
        self.chunked = chunked
        """The body goes out in chunked encoding."""
        self.keep_alive = keep_alive
        """The connection stays open after this response."""


class FieldBlock:
    """Fields joined once, to be written ahead of a response's own (a stored response's)."""

    def __init__(
        self, headers: CIMultiDict[str], text: str, has_date: bool, has_type: bool
    ) -> None:
        self.headers = headers
        """The fields, for lookups (not to be changed: `text` was joined from them)."""
        self.text = text
        """`Name: value\r\n` per field."""
        self.has_date = has_date
        self.has_type = has_type
        """`Content-Type` is among them."""


FRAMING_LOWER = frozenset(name.lower() for name in _FRAMING)
"""The framing fields' names in lower case (see `EdgeResponse.set_header`)."""

_NOT_IN_BLOCK = (*_FRAMING, "Age", "Cache-Status", "X-Cache")
"""Fields a block must not hold: the listener's framing, and those each hit sets itself."""


def field_block(headers: CIMultiDict[str]) -> FieldBlock | None:
    """`headers` joined once for `stored_response_head`, or None when they cannot be
    (framing or per-hit fields among them, or a CR or LF in a value: such responses take the
    ordinary path, which refuses the latter)."""
    for name in _NOT_IN_BLOCK:
        if name in headers:
            return None
    n = len(headers)
    text = "\r\n".join(map(": ".join, headers.items())) + "\r\n" if n else ""
    if text.count("\n") != n or text.count("\r") != n:
        return None
    return FieldBlock(headers, text, "Date" in headers, "Content-Type" in headers)


class _Clock:
    """`Date` values, formatted once per second (the format costs more than a cache hit's
    header lookups)."""

    def __init__(self) -> None:
        self.second = -1
        self.line = ""

    def date_line(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.line = f"Date: {formatdate(second, usegmt=True)}\r\n"
            self.second = second
        return self.line


_CLOCK = _Clock()


def http_date() -> str:
    """The current time as an HTTP date (`Fri, 27 Nov 2026 15:04:05 GMT`)."""
    return _CLOCK.date_line()[6:-2]


def status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} Unknown\r\n"


def response_head(
    status: int,
    headers: CIMultiDict[str],
    *,
    head_request: bool,
    version: str,
    keep_alive: bool,
    length: int | None,
    declared_length: int | None = None,
) -> ResponseHead:
    """The head for `status` and `headers`.

    `length`: bytes of body that follow (None: streamed, length unknown unless
    `declared_length`, the length the origin announced, is given). `keep_alive`: the client's
    wish and the edge's (already False when `headers` say `Connection: close`).
    Raises ValueError when a field value contains CR or LF.
    """
    if (
        CONTENT_LENGTH in headers
        or TRANSFER_ENCODING in headers
        or CONNECTION in headers
        or KEEP_ALIVE in headers
    ):  # rare on a hit (the cache stores none of them): four lookups in C otherwise
        connection = headers.get("Connection")
        if connection is not None and "close" in connection.lower():
            keep_alive = False
        own = headers.get("Content-Length") if head_request else None
        if own is not None and own.strip().isdigit() and not length:
            length = int(own)  # a HEAD answer names the length of the body it does not carry
        text = _joined(status, [(k, v) for k, v in headers.items() if k.title() not in _FRAMING])
    else:
        text = _joined(status, headers.items())
    if length is None:
        length = declared_length
    return _framed(
        status,
        text,
        DATE in headers,
        CONTENT_TYPE in headers,
        head_request=head_request,
        version=version,
        keep_alive=keep_alive,
        length=length,
    )


def stored_response_head(
    status: int,
    stored: FieldBlock,
    added: Mapping[str, tuple[str, str]],
    *,
    head_request: bool,
    version: str,
    keep_alive: bool,
    length: int,
) -> ResponseHead:
    """The head of a response served from the cache: `stored`'s fields (joined once, see
    `field_block`), then the `(name, value)` fields of `added` (keyed by lower-case name; no
    framing field among them: `EdgeResponse.set_header` does not add one there). Raises
    ValueError when a value in `added` contains CR or LF."""
    text = stored.text + _joined(status, added.values())
    return _framed(
        status,
        text,
        stored.has_date or "date" in added,
        stored.has_type or "content-type" in added,
        head_request=head_request,
        version=version,
        keep_alive=keep_alive,
        length=length,
    )


def _joined(status: int, items: Collection[tuple[str, str]]) -> str:
    """`Name: value\r\n` per field (each formatted in C, compiled); a CR or LF in a value
    would show as an extra line, and is refused."""
    n = len(items)
    text = "".join([f"{name}: {value}\r\n" for name, value in items])
    if text.count("\n") != n or text.count("\r") != n:
        raise ValueError(f"CR or LF in a response field value (status {status})")
    return text


def _framed(
    status: int,
    text: str,
    has_date: bool,
    has_type: bool,
    *,
    head_request: bool,
    version: str,
    keep_alive: bool,
    length: int | None,
) -> ResponseHead:
    """The whole head: status line, `text`, then Date and the framing fields."""
    bodyless = head_request or status < 200 or status == 204 or status == 304
    chunked = False
    tail = "" if has_date else _CLOCK.date_line()
    if status < 200 or status == 204 or status == 304:
        pass  # never a length (RFC 9110 §8.6)
    elif length is not None:
        if length or not head_request:
            tail += f"Content-Length: {length}\r\n"
        if not bodyless and length and not has_type:
            tail += "Content-Type: application/octet-stream\r\n"
    elif not bodyless:
        if version == "1.0":
            keep_alive = False  # the end of the body is the end of the connection
        else:
            chunked = True
            tail += "Transfer-Encoding: chunked\r\n"
    if not keep_alive:
        tail += "Connection: close\r\n"
    elif version == "1.0":
        tail += "Connection: keep-alive\r\n"
    line = _STATUS_LINES.get(status) or status_line(status)
    data = f"{line}{text}{tail}\r\n".encode("utf-8", "surrogateescape")
    return ResponseHead(data, not bodyless, chunked, keep_alive)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
