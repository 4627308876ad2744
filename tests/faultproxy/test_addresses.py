"""Listen and upstream addresses as Go's net.SplitHostPort reads them."""

from __future__ import annotations

import pytest

from edgelab.faultproxy.errors import ListenError
from edgelab.faultproxy.proxy import join_host_port, resolve, split_host_port


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:443", ("::1", 443)),
        (":8080", ("", 8080)),
    ],
)
def test_split(address: str, expected: tuple[str, int]) -> None:
    assert split_host_port(address) == expected


@pytest.mark.parametrize("address", ["localhost", "::1:80", "host:http", "host:70000"])
def test_split_errors(address: str) -> None:
    with pytest.raises(ValueError, match=f"address {address}"):
        split_host_port(address)


def test_join() -> None:
    assert join_host_port("::1", 80) == "[::1]:80"
    assert join_host_port("127.0.0.1", 80) == "127.0.0.1:80"


async def test_resolve_prefers_ipv4_and_keeps_empty_host_on_loopback() -> None:
    assert await resolve("localhost:0") == ("127.0.0.1", 0)
    assert await resolve(":0") == ("127.0.0.1", 0)
    with pytest.raises(ListenError, match="missing port"):
        await resolve("localhost")
