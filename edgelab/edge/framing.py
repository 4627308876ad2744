"""Request framing rules of the proxy listener (RFC 9112): what to refuse, and keep-alive. Pure.

    refusal = refuse_head("GET", "/page/1", "1.1", headers)   # None: serve it
    refusal = refuse_head("GET", "http://169.254.169.254/", "1.1", headers)
    refusal.status, refusal.reason      # 400, "request target must be a path"
    keeps = keep_alive("1.0", headers)  # False unless `Connection: keep-alive`

The listener parses with httptools (llhttp in strict mode), which already refuses most
request-smuggling shapes while parsing: Content-Length with Transfer-Encoding, duplicate or
signed Content-Length, a Transfer-Encoding that does not end in chunked, whitespace before a
field's colon, obs-fold, bare LF, NUL/CR in a field, bad or overflowing chunk sizes, unknown
methods and non-HTTP bytes. What it lets through, and an edge in front of an origin must not
(a proxy and its origin disagreeing on where a request ends or where it goes is how smuggling
and SSRF work), is refused here, after the head is parsed and before any stage sees it:

- a target that is not origin-form (`/path`): absolute-form (`http://host/`) and asterisk-form
  (`*`) would let a client name another host, and CONNECT asks for a tunnel (llhttp reports it
  as an upgrade; the listener passes the method here);
- an HTTP version other than 1.0 and 1.1 (llhttp accepts `HTTP/0.9`- and `HTTP/2.0`-looking
  request lines);
- several `Host` fields, or none in HTTP/1.1 (RFC 9112 §3.2: "MUST respond with 400");
- a transfer coding other than `chunked` alone (`gzip, chunked`): the edge only decodes chunked,
  so forwarding the rest as if it were the body would change its meaning (RFC 9112 §6.1: 501);
- and again, for defence in depth, the Content-Length/Transfer-Encoding combinations llhttp
  refuses today: a parser upgrade must not silently turn one of them into a smuggling hole.

Header size limits (`max_header_bytes` per request line and per field, `head_limit()` for the
whole head) are checked by the listener as bytes arrive, with the statuses named here.
"""

from __future__ import annotations

from typing import NamedTuple

from multidict import CIMultiDict

from edgelab.edge.fieldnames import CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING


class Refusal(NamedTuple):
    """A request the listener answers itself with the edge's error page, then closes."""

    status: int
    reason: str


TARGET_TOO_LONG = 414
"""Status for a request target over `max_header_bytes` (RFC 9112 §3: 414 URI Too Long)."""

FIELDS_TOO_LARGE = 431
"""Status for a field, or a whole head, over its limit (RFC 6585: 431)."""

HEAD_LIMIT_FIELDS = 4
"""The whole head may hold this many `max_header_bytes` (as nginx's default
`large_client_header_buffers 4 8k`): enough for any real browser, bounded for a flood."""


def head_limit(max_header_bytes: int) -> int:
    """Bytes a request head (request line and fields) may take in all."""
    return HEAD_LIMIT_FIELDS * max_header_bytes


def refuse_head(
    method: str, target: str, version: str, headers: CIMultiDict[str]
) -> Refusal | None:
    """Why a parsed request head must not be served, or None. Cheap on the common GET: a few
    lookups, no allocation."""
    if method == "CONNECT":
        return Refusal(400, "CONNECT is not served here")
    if not target.startswith("/"):
        return Refusal(400, "request target must be a path")
    if version != "1.1" and version != "1.0":
        if version.startswith("1."):  # 1.2 and later minors are 1.1 to us (RFC 9110 §2.5)
            pass
        elif version[:1].isdigit() and int(version.partition(".")[0]) > 1:
            return Refusal(505, f"HTTP/{version} is not supported")
        else:
            return Refusal(400, f"HTTP/{version} is not supported")
    hosts = headers.getall(HOST, ())
    if len(hosts) > 1:
        return Refusal(400, "more than one Host field")
    if not hosts and version != "1.0":
        return Refusal(400, "no Host field")
    if TRANSFER_ENCODING in headers:
        if CONTENT_LENGTH in headers:
            return Refusal(400, "Content-Length with Transfer-Encoding")
        codings = [
            c.strip().lower() for v in headers.getall("Transfer-Encoding") for c in v.split(",")
        ]
        if codings != ["chunked"]:
            return Refusal(501, "transfer coding other than chunked")
        if version == "1.0":
            return Refusal(400, "Transfer-Encoding in HTTP/1.0")
    elif CONTENT_LENGTH in headers:
        lengths = headers.getall(CONTENT_LENGTH)
        if len(lengths) > 1 or not lengths[0].strip().isdigit() or not lengths[0].isascii():
            return Refusal(400, "malformed Content-Length")
    return None


def content_length(headers: CIMultiDict[str]) -> int | None:
    """The declared body length (already validated by `refuse_head`), or None."""
    value = headers.get(CONTENT_LENGTH)
    return int(value) if value is not None else None


def keep_alive(version: str, headers: CIMultiDict[str]) -> bool:
    """Whether the client wants the connection kept after this request (RFC 9112 §9.3):
    HTTP/1.1 unless it says `Connection: close`, HTTP/1.0 only if it says `keep-alive`."""
    connection = headers.get(CONNECTION)
    if connection is None:
        return version != "1.0"
    tokens = {t.strip().lower() for t in connection.split(",")}
    if "close" in tokens:
        return False
    return version != "1.0" or "keep-alive" in tokens


def expects_continue(version: str, headers: CIMultiDict[str]) -> bool:
    """The client waits for `100 Continue` before sending its body (HTTP/1.1 only)."""
    expect = headers.get(EXPECT)
    return expect is not None and version != "1.0" and expect.strip().lower() == "100-continue"
