"""limit_data on real sockets: exactly `bytes` bytes pass, then the connection closes."""

from __future__ import annotations

from edgelab.testing.upstreams import EchoServer
from tests.faultproxy.conftest import Api, Connect, read_exactly, read_to_eof


async def test_cuts_at_the_byte_count(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="limit_data", attributes={"bytes": 100})
    reader, writer = await connect(proxy["listen"])
    payload = bytes(range(250))
    writer.write(payload[:60])
    assert await read_exactly(reader, 60) == payload[:60]
    writer.write(payload[60:])
    assert await read_to_eof(reader) == payload[60:100]


async def test_count_survives_an_update(api: Api, echo: EchoServer, connect: Connect) -> None:
    proxy = await api.proxy("p", echo.address)
    await api.toxic("p", type="limit_data", attributes={"bytes": 100})
    reader, writer = await connect(proxy["listen"])
    writer.write(b"a" * 80)
    assert await read_exactly(reader, 80) == b"a" * 80
    status, _ = await api.call(
        "PATCH", "/proxies/p/toxics/limit_data_downstream", {"attributes": {"bytes": 90}}
    )
    assert status == 200
    writer.write(b"b" * 50)
    assert await read_to_eof(reader) == b"b" * 10
