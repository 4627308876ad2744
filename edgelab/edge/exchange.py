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


@dataclass
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


@dataclass
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


@dataclass
class Verdict:
    """One stage's decision, for logs, metrics and reports (`waf`, `block`, rule 942100)."""

    stage: str
    action: str
    detail: str = ""


@dataclass
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
    """The headers the origin stage will send; built by the headers stage."""
    started_at: float = 0.0
    """Loop time when the request arrived."""
    path_taken: str = "edge"
    """What served it: `cache`, `origin`, `edge` (answered by a stage), for metrics."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Small per-stage facts other stages or the log may read (cache status, bot score...)."""

    def verdict(self, stage: str, action: str, detail: str = "") -> None:
        self.verdicts.append(Verdict(stage, action, detail))
