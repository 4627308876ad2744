"""Real fake origins for tests and benchmarks: aiohttp apps whose answers a test scripts.

    origin = ScriptedOrigin()
    origin.reply("/a", body=b"hello", headers={"Cache-Control": "max-age=60"})
    server = await aiohttp_server(origin.app())      # or run it with AppRunner/TCPSite
    ... origin.hits["/a"], origin.requests[-1].headers

A reply may be held until a test opens its gate (`origin.hold("/a")` / `origin.open("/a")`), so
a test can line requests up behind a slow origin without sleeping. A 304 is answered when the
request's If-None-Match matches the reply's ETag.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: CIMultiDictProxy[str]


class ScriptedOrigin:
    """An origin that answers each path as scripted and counts what reached it."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[Seen] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.arrived = asyncio.Event()
        """Set whenever a request arrives (a test clears it and waits for the next)."""

    def reply(
        self,
        path: str,
        body: bytes = b"ok",
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> None:
        self.replies[path] = Reply(status, body, dict(headers or {}))

    def hold(self, path: str) -> None:
        """Requests for `path` wait until `open(path)`."""
        self.gates[path] = asyncio.Event()

    def open(self, path: str) -> None:
        gate = self.gates.pop(path, None)
        if gate is not None:
            gate.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.requests.append(Seen(request.method, request.path_qs, request.headers))
        self.arrived.set()
        if request.can_read_body:
            await request.read()
        gate = self.gates.get(path)
        if gate is not None:
            await gate.wait()
        reply = self.replies.get(path)
        if reply is None:
            return web.Response(status=404, text="not scripted\n")
        headers = CIMultiDict(reply.headers)
        etag = headers.get("ETag")
        inm = request.headers.get("If-None-Match")
        if etag is not None and inm is not None and etag in [t.strip() for t in inm.split(",")]:
            return web.Response(status=304, headers=headers)
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app
