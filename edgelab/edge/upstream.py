"""The one way the edge talks to its origin: `Upstream.fetch`, pooled and keep-alive.

    upstream = make_upstream("http://127.0.0.1:8080", UpstreamOptions())  # PoolUpstream by default
    await upstream.open()
    resp = await upstream.fetch("GET", "/page/1", headers, body=None)   # UpstreamResponse
    async for chunk in resp.chunks(): ...
    await resp.release(); await upstream.close()

Connection refused or reset raises `UpstreamError` (502); a connect or read timeout raises
`UpstreamTimeout` (504). The edge never retries on its own: a retry is the client's decision.
The URL is fixed at construction: nothing a client sends can point the edge anywhere else.

Two implementations, chosen by `UpstreamOptions.client`: `PoolUpstream` (`edge/pool.py`, the
default: asyncio connections parsed with httptools) and `SessionUpstream` (aiohttp's
ClientSession; about half the throughput, kept as a reference and for comparison in
`benchmarks/proxy.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from edgelab.config.edge import UpstreamOptions
from edgelab.errors import RequestRejected, UpstreamError, UpstreamTimeout

CHUNK_BYTES = 64 * 1024


class UpstreamResponse(Protocol):
    """An origin response whose head has arrived; the body is read through `chunks()`."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> CIMultiDictProxy[str] | CIMultiDict[str]: ...

    @property
    def content_length(self) -> int | None:
        """The length the origin announced, or None (chunked, or delimited by closing)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises UpstreamError/UpstreamTimeout if the origin breaks off."""
        ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def complete_body(self) -> bytes | None:
        """The whole body if it has all arrived already (small responses usually have), else
        None; lets the edge answer in one write and hand the connection back at once."""
        ...

    async def release(self) -> None:
        """Done with it: the connection is reused only if the body was read to its end."""
        ...


@dataclass
class SessionResponse:
    """`UpstreamResponse` over an aiohttp ClientResponse."""

    status: int
    headers: CIMultiDictProxy[str]
    content_length: int | None
    _resp: aiohttp.ClientResponse

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises UpstreamError/UpstreamTimeout if the origin breaks off."""
        try:
            async for chunk in self._resp.content.iter_chunked(CHUNK_BYTES):
                yield chunk
        except TimeoutError as e:
            raise UpstreamTimeout("origin stopped sending the body") from e
        except aiohttp.ClientError as e:
            raise UpstreamError(f"origin broke off the body: {e}") from e

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def complete_body(self) -> bytes | None:
        return None  # ClientResponse keeps no public view of what it has buffered

    async def release(self) -> None:
        self._resp.release()


class Upstream(Protocol):
    """Sends one request to the origin; the pool behind it is the implementation's business."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def fetch(
        self,
        method: str,
        target: str,
        headers: Any,
        body: bytes | Any | None,
        content_length: int | None = None,
    ) -> UpstreamResponse: ...


class SessionUpstream:
    """`Upstream` on one aiohttp ClientSession: it owns the keep-alive pool for this process."""

    def __init__(self, origin_url: str, options: UpstreamOptions) -> None:
        self.origin = URL(origin_url)
        self._base = str(self.origin.with_path("").with_query(None)).rstrip("/")
        self.options = options
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.options.max_connections,
            limit_per_host=self.options.max_connections,
            keepalive_timeout=self.options.keepalive_s,
            ttl_dns_cache=300,
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.options.connect_timeout_s,
            sock_read=self.options.read_timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        method: str,
        target: str,
        headers: Any,
        body: bytes | Any | None,
        content_length: int | None = None,
    ) -> UpstreamResponse:
        assert self._session is not None, "SessionUpstream.open() was not called"
        headers = headers.copy()
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        # The origin is fixed; the client's target only ever becomes the path and query on it.
        url = URL(self._base + target, encoded=True)
        try:
            resp = await self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                compress=None,
                chunked=None,
            )
        except RequestRejected:
            raise  # the client's body failed (too large, malformed, stalled), not the origin
        except TimeoutError as e:
            raise UpstreamTimeout(f"origin {self.origin} did not answer in time") from e
        except aiohttp.ClientConnectorError as e:
            raise UpstreamError(f"origin {self.origin} unreachable: {e.strerror or e}") from e
        except aiohttp.ClientError as e:
            cause = e.__cause__
            if isinstance(cause, RequestRejected):  # the client's body, not the origin, failed
                raise cause from None
            raise UpstreamError(f"origin {self.origin} failed: {e}") from e
        return SessionResponse(resp.status, resp.headers, resp.content_length, resp)


def make_upstream(origin_url: str, options: UpstreamOptions) -> Upstream:
    """The `Upstream` that `options.client` names, for `origin_url`."""
    if options.client == "session":
        return SessionUpstream(origin_url, options)
    from edgelab.edge.pool import PoolUpstream

    return PoolUpstream(origin_url, options)


async def chain_chunks(first: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`first` (chunks already read) and then the rest of the stream, as one body. An async
    generator, so it lives here rather than in the compiled cache stage (mypyc has none)."""
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


async def replay(head: bytes, rest: Any) -> AsyncIterator[bytes]:
    """`head` (a body's bytes read already) and then what `rest.readany()` still gives, as one
    body (the WAF's read of a body too long to keep; an async generator, see `chain_chunks`)."""
    yield head
    while True:
        chunk: bytes = await rest.readany()
        if not chunk:
            return
        yield chunk
