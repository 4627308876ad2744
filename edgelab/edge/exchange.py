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

from edgelab.edge.fieldnames import TRANSFER_ENCODING
from edgelab.edge.responsehead import FRAMING_LOWER, FieldBlock


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

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: CIMultiDictProxy[str] | CIMultiDict[str],
        client_ip: str,
        scheme: str = "http",
        host: str = "",
        body: bytes | None = None,
        body_stream: Any = None,
        content_length: int | None = None,
    ) -> None:
        """The fields above, as the dataclass would set them. Written out because the compiled
        build (edgelab/compiled.py) runs a generated dataclass `__init__` as interpreted
        Python: one per request (tests/test_compiled.py holds the two to the same fields)."""
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.client_ip = client_ip
        self.scheme = scheme
        self.host = host
        self.body = body
        self.body_stream = body_stream
        self.content_length = content_length

    @property
    def target(self) -> str:
        """Path and query as on the request line."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def has_body(self) -> bool:
        return (
            self.body is not None
            or (self.content_length or 0) > 0
            or TRANSFER_ENCODING in self.headers
        )


class EdgeResponse:
    """What goes back to the client: status, headers, and a body either whole or streamed.

    A response served from the cache starts from its stored fields, joined once when stored
    (`with_stored`), and keeps the fields set on it since (Age, Cache-Status, Via, the ray
    id...) apart, until someone reads `headers` as a whole, which merges the two (stored fields
    first, as `headers[name] = value` would have put them). `set_header` and `has_header` work
    on either form without merging, so a cache hit copies no stored field.
    """

    __slots__ = ("status", "_headers", "body", "stream", "content_length", "release", "_stored")

    def __init__(
        self,
        status: int,
        headers: CIMultiDict[str] | None = None,
        body: bytes = b"",
        stream: AsyncIterator[bytes] | None = None,
        content_length: int | None = None,
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        self._headers: CIMultiDict[str] = CIMultiDict() if headers is None else headers
        self.body = body
        self.stream = stream
        """Chunks to stream instead of `body` (an origin response passed through)."""
        self.content_length = content_length
        """Length announced for a streamed body, when the origin announced one."""
        self.release = release
        """Called once the body was sent (or abandoned), to hand the upstream connection back."""
        self._stored: tuple[FieldBlock, dict[str, tuple[str, str]]] | None = None
        """A stored response's fields, and those set since keyed by lower-case name."""

    @classmethod
    def with_stored(
        cls, status: int, stored: FieldBlock, added: dict[str, tuple[str, str]], body: bytes
    ) -> EdgeResponse:
        """`stored`'s fields, then `added` ({lower-case name: (name, value)}; no name of
        `stored`'s and no framing field among them)."""
        resp = cls(status, None, body)
        resp._stored = (stored, added)
        return resp

    @property
    def headers(self) -> CIMultiDict[str]:
        """All the fields (a stored response's are merged in on first read)."""
        stored = self._stored
        if stored is not None:
            self._stored = None
            merged = stored[0].headers.copy()
            merged.extend(list(stored[1].values()))
            self._headers = merged
        return self._headers

    @headers.setter
    def headers(self, value: CIMultiDict[str]) -> None:
        self._stored = None
        self._headers = value

    def set_header(self, name: str, value: str) -> None:
        """`headers[name] = value`, without merging a stored response's fields (unless `name`
        is among them, or a framing field)."""
        stored = self._stored
        if stored is None:
            self._headers[name] = value
            return
        key = name.lower()
        if key in FRAMING_LOWER or name in stored[0].headers:
            self.headers[name] = value
        else:
            stored[1][key] = (name, value)

    def has_header(self, name: str) -> bool:
        """`name in headers`, without merging a stored response's fields."""
        stored = self._stored
        if stored is None:
            return name in self._headers
        return name in stored[0].headers or name.lower() in stored[1]

    @property
    def stored_fields(self) -> tuple[FieldBlock, dict[str, tuple[str, str]]] | None:
        """The stored fields and those added since, for the listener to write without
        merging (`stored_response_head`); None unless served from the cache and not merged."""
        return self._stored

    def __repr__(self) -> str:
        stored = self._stored
        fields = (
            [*stored[0].headers.items(), *stored[1].values()]
            if stored
            else list(self._headers.items())
        )
        return f"EdgeResponse(status={self.status}, headers={fields!r}, body={self.body!r})"


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

    def __init__(
        self,
        request: ClientRequest,
        pop: str = "pop",
        ray_id: str = "",
        response: EdgeResponse | None = None,
        verdicts: list[Verdict] | None = None,
        error: BaseException | None = None,
        upstream_headers: CIMultiDict[str] | None = None,
        build_upstream_headers: Callable[[ClientRequest], CIMultiDict[str]] | None = None,
        pending_upstream_headers: list[tuple[str, str]] | None = None,
        started_at: float = 0.0,
        path_taken: str = "edge",
        notes: dict[str, Any] | None = None,
    ) -> None:
        """The fields above, as the dataclass would set them (written out: see ClientRequest's
        `__init__`); `verdicts` and `notes` start empty when not given."""
        self.request = request
        self.pop = pop
        self.ray_id = ray_id
        self.response = response
        self.verdicts = [] if verdicts is None else verdicts
        self.error = error
        self.upstream_headers = upstream_headers
        self.build_upstream_headers = build_upstream_headers
        self.pending_upstream_headers = pending_upstream_headers
        self.started_at = started_at
        self.path_taken = path_taken
        self.notes = {} if notes is None else notes

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
