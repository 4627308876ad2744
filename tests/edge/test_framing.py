"""The listener's request framing rules (edge/framing.py): a table of heads to decisions."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.edge.framing import (
    Refusal,
    content_length,
    expects_continue,
    head_limit,
    keep_alive,
    refuse_head,
)


def h(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


HOST = ("Host", "x")

REFUSED = [
    ("CONNECT", "evil.example:443", "1.1", h(HOST), 400),
    ("GET", "http://169.254.169.254/latest", "1.1", h(HOST), 400),
    ("OPTIONS", "*", "1.1", h(HOST), 400),
    ("GET", "evil", "1.1", h(HOST), 400),
    ("GET", "/", "0.9", h(HOST), 400),
    ("GET", "/", "2.0", h(HOST), 505),
    ("GET", "/", "1.1", h(HOST, ("Host", "y")), 400),
    ("GET", "/", "1.1", h(), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "4"), ("Transfer-Encoding", "chunked")), 400),
    ("POST", "/", "1.1", h(HOST, ("Transfer-Encoding", "gzip, chunked")), 501),
    ("POST", "/", "1.1", h(HOST, ("Transfer-Encoding", "chunked, identity")), 501),
    (
        "POST",
        "/",
        "1.1",
        h(HOST, ("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")),
        501,
    ),
    ("POST", "/", "1.0", h(HOST, ("Transfer-Encoding", "chunked")), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "1"), ("Content-Length", "2")), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "+2")), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "-1")), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "2, 2")), 400),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "١")), 400),  # a non-ASCII digit
]


@pytest.mark.parametrize(("method", "target", "version", "headers", "status"), REFUSED)
def test_refused_heads(
    method: str, target: str, version: str, headers: CIMultiDict[str], status: int
) -> None:
    refusal = refuse_head(method, target, version, headers)
    assert isinstance(refusal, Refusal) and refusal.status == status
    assert refusal.reason


SERVED = [
    ("GET", "/page/1?a=b", "1.1", h(HOST)),
    ("GET", "//evil.example/x", "1.1", h(HOST)),  # a path, however it looks
    ("GET", "/", "1.0", h()),  # HTTP/1.0 needs no Host
    ("POST", "/", "1.1", h(HOST, ("Transfer-Encoding", "Chunked"))),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "2 "))),
    ("POST", "/", "1.1", h(HOST, ("Content-Length", "0"))),
    ("OPTIONS", "/", "1.1", h(HOST)),
]


@pytest.mark.parametrize(("method", "target", "version", "headers"), SERVED)
def test_served_heads(method: str, target: str, version: str, headers: CIMultiDict[str]) -> None:
    assert refuse_head(method, target, version, headers) is None


@pytest.mark.parametrize(
    ("version", "connection", "keeps"),
    [
        ("1.1", None, True),
        ("1.1", "close", False),
        ("1.1", "Keep-Alive, Close", False),
        ("1.1", "keep-alive", True),
        ("1.0", None, False),
        ("1.0", "keep-alive", True),
        ("1.0", "Keep-Alive", True),
        ("1.0", "close", False),
    ],
)
def test_keep_alive(version: str, connection: str | None, keeps: bool) -> None:
    headers = h(HOST) if connection is None else h(HOST, ("Connection", connection))
    assert keep_alive(version, headers) is keeps


def test_expects_continue_only_for_http_1_1_and_100_continue() -> None:
    assert expects_continue("1.1", h(("Expect", "100-Continue")))
    assert not expects_continue("1.0", h(("Expect", "100-continue")))
    assert not expects_continue("1.1", h(("Expect", "something-else")))
    assert not expects_continue("1.1", h())


def test_content_length_and_head_limit() -> None:
    assert content_length(h(("Content-Length", "12 "))) == 12
    assert content_length(h()) is None
    assert head_limit(8190) == 4 * 8190
