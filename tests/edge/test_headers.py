from __future__ import annotations

from multidict import CIMultiDict

from edgelab.edge.headers import forward_request_headers, forward_response_headers, strip_hop_by_hop


def test_strips_hop_by_hop_and_connection_listed() -> None:
    h = CIMultiDict(
        [
            ("Connection", "keep-alive, X-Secret"),
            ("Keep-Alive", "timeout=5"),
            ("X-Secret", "1"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Accept", "*/*"),
        ]
    )
    assert list(strip_hop_by_hop(h).items()) == [("Accept", "*/*")]


def test_forward_request_headers_adds_forwarding_and_via() -> None:
    h = CIMultiDict(
        [
            ("Host", "shop.example"),
            ("X-Forwarded-For", "198.51.100.1"),
            ("Via", "1.1 corp-proxy"),
            ("X-Edgelab-Attack", "sqli"),
            ("Content-Length", "5"),
            ("Accept-Encoding", "gzip"),
        ]
    )
    out = forward_request_headers(
        h, client_ip="203.0.113.9", proto="http", host="shop.example", via="1.1 pop-1 (edgelab)"
    )
    assert out["X-Forwarded-For"] == "198.51.100.1, 203.0.113.9"
    assert out["X-Forwarded-Proto"] == "http"
    assert out["X-Forwarded-Host"] == "shop.example"
    assert out["Via"] == "1.1 corp-proxy, 1.1 pop-1 (edgelab)"
    assert out["X-Edgelab-Attack"] == "sqli"
    assert out["Accept-Encoding"] == "gzip"
    assert "Host" not in out and "Content-Length" not in out


def test_forward_response_headers_keeps_end_to_end() -> None:
    h = CIMultiDict(
        [
            ("Content-Encoding", "gzip"),
            ("Connection", "close"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ]
    )
    out = forward_response_headers(h, via="1.1 pop-1 (edgelab)")
    assert out.getall("Set-Cookie") == ["a=1", "b=2"]
    assert out["Content-Encoding"] == "gzip"
    assert "Connection" not in out


def test_expect_100_continue_is_answered_by_the_edge_not_forwarded() -> None:
    h = CIMultiDict([("Expect", "100-Continue"), ("Accept", "*/*")])
    out = forward_request_headers(h, client_ip="203.0.113.9", proto="http", host="h", via="v")
    assert "Expect" not in out and out["Accept"] == "*/*"
