"""Exchange: one client request, its response, and what every stage decided. Plain data.

    ex = Exchange(request=ClientRequest(method="GET", path="/page/1", ...), pop="pop-1")
    await pipeline.run(ex)
    ex.response.status, ex.verdicts, ex.error

Stages read and write an Exchange; none of them touches a socket except the origin stage (which
goes through the `Upstream` interface) and the server that writes `ex.response` to the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(slots=True)
class ClientRequest:
    """The request as the client sent it, plus what the edge knows of the client."""

    method: str
    path: str
    """Path without the query string, percent-encoding kept as sent."""
    query_string: str
    headers: CIMultiDictProxy[str] | CIMultiDict[str]
    client_ip: str
    scheme: str = "http"
    host: str = ""
    body: bytes | None = None
    """The whole body when a stage buffered it (WAF inspection), else None."""
    body_stream: Any = None
    """The unread body stream (aiohttp StreamReader) to forward when `body` is None."""
    content_length: int | None = None

    @property
    def target(self) -> str:
        """Path and query as on the request line."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def has_body(self) -> bool:
        return (
            self.body is not None
            or (self.content_length or 0) > 0
            or "Transfer-Encoding" in self.headers
        )


@dataclass(slots=True)
class EdgeResponse:
    """What goes back to the client: status, headers, and a body either whole or streamed."""

    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    """Chunks to stream instead of `body` (an origin response passed through)."""
    content_length: int | None = None
    """Length announced for a streamed body, when the origin announced one."""
    release: Callable[[], Awaitable[None]] | None = None
    """Called once the body was sent (or abandoned), to hand the upstream connection back."""


@dataclass(slots=True)
class Verdict:
    """One stage's decision, for logs, metrics and reports (`waf`, `block`, rule 942100)."""

    stage: str
    action: str
    detail: str = ""


@dataclass(slots=True)
class Exchange:
    """One request through the edge."""

    request: ClientRequest
    pop: str = "pop"
    ray_id: str = ""
    response: EdgeResponse | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    error: BaseException | None = None
    """Why the response is an error (upstream unreachable, stage failure), if it is."""
    upstream_headers: CIMultiDict[str] | None = None
    """The headers the origin stage will send, once built: read them with `origin_headers()`,
    which builds them on first use (a cache hit never needs them)."""
    build_upstream_headers: Callable[[ClientRequest], CIMultiDict[str]] | None = None
    """How to build `upstream_headers` (set by the headers stage); None: a copy of the client's."""
    pending_upstream_headers: list[tuple[str, str]] | None = None
    """Headers set with `set_upstream_header` before the origin headers were built."""
    started_at: float = 0.0
    """Loop time when the request arrived."""
    path_taken: str = "edge"
    """What served it: `cache`, `origin`, `edge` (answered by a stage), for metrics."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Small per-stage facts other stages or the log may read (cache status, bot score...)."""

    def verdict(self, stage: str, action: str, detail: str = "") -> None:
        self.verdicts.append(Verdict(stage, action, detail))

    def origin_headers(self) -> CIMultiDict[str]:
        """The headers for the origin request, built on first use: the stages before the cache
        only say how (`build_upstream_headers`, `set_upstream_header`), so a hit builds none."""
        up = self.upstream_headers
        if up is None:
            build = self.build_upstream_headers
            up = build(self.request) if build is not None else CIMultiDict(self.request.headers)
            if self.pending_upstream_headers:
                for name, value in self.pending_upstream_headers:
                    up[name] = value
                self.pending_upstream_headers = None
            self.upstream_headers = up
        return up

    def set_upstream_header(self, name: str, value: str) -> None:
        """Set `name` on the origin request (replacing the client's), without building the
        origin headers now if they are not built yet."""
        if self.upstream_headers is not None:
            self.upstream_headers[name] = value
        elif self.pending_upstream_headers is None:
            self.pending_upstream_headers = [(name, value)]
        else:
            self.pending_upstream_headers.append((name, value))
