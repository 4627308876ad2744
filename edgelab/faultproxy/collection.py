"""Every proxy of one server, by name: create, update, delete, populate, reset.

    proxies = ProxyCollection(random.Random(7))
    proxy = await proxies.create({"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432"})
    await proxies.populate(json.load(open("proxies.json")))    # also what --config does

Toxiproxy's `proxy_collection.go` and the handlers of `api.go`, minus HTTP: the bodies are
decoded JSON, the errors are `edgelab.faultproxy.errors` types. One lock serialises changes so
concurrent API calls see a consistent collection.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgelab.faultproxy.chain import require_object, typed_field
from edgelab.faultproxy.errors import (
    BadRequestBody,
    FaultProxyError,
    MissingField,
    ProxyExists,
    ProxyNotFound,
)
from edgelab.faultproxy.proxy import Proxy
from edgelab.faultproxy.toxics.base import json_type


@dataclass(frozen=True)
class ProxyFields:
    """A decoded proxy body (Toxiproxy's `Proxy` struct fields that clients send)."""

    name: str
    listen: str
    upstream: str
    enabled: bool


def decode_proxy(body: Any, defaults: ProxyFields, struct: str = "proxy.Proxy") -> ProxyFields:
    """Fields from `body` over `defaults` (missing or null keys keep theirs); BadRequestBody."""
    body = require_object(body, struct)
    values = {}
    for key, kind in (("name", str), ("listen", str), ("upstream", str), ("enabled", bool)):
        value = typed_field(body, key, kind, "Proxy")
        values[key] = getattr(defaults, key) if value is None else value
    return ProxyFields(**values)


def parse_populate(body: Any) -> list[ProxyFields]:
    """Check a /populate body (or --config file) before anything changes.

    Raises BadRequestBody or MissingField (`missing required field: name at proxy 2`).
    """
    if body is None:  # Go decodes `null` into an empty list
        return []
    if not isinstance(body, list):
        raise BadRequestBody(
            f"json: cannot unmarshal {json_type(body)} into Go value of type "
            "[]struct { proxy.Proxy; Enabled *bool }"
        )
    entries = []
    for i, item in enumerate(body, start=1):
        fields = decode_proxy(item, ProxyFields("", "", "", True), "proxy.Proxy")
        if not fields.name:
            raise MissingField(f"name at proxy {i}")
        if not fields.upstream:
            raise MissingField(f"upstream at proxy {i}")
        entries.append(fields)
    return entries


class PopulateError(FaultProxyError):
    """A /populate entry failed after others were applied; carries those done so far."""

    def __init__(self, cause: FaultProxyError, done: Sequence[Proxy]) -> None:
        self.cause = cause
        self.done = list(done)
        super().__init__(cause.text)


class ProxyCollection:
    """The server's proxies, in creation order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        """Each proxy gets its own generator seeded from this one."""
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        """Raises ProxyNotFound."""
        try:
            return self.proxies[name]
        except KeyError:
            raise ProxyNotFound() from None

    def _new(self, fields: ProxyFields) -> Proxy:
        return Proxy(
            fields.name, fields.listen, fields.upstream, random.Random(self.rng.getrandbits(64))
        )

    async def create(self, body: Any) -> Proxy:
        """POST /proxies: 400 bad body or missing field, 409 exists, 500 cannot listen."""
        fields = decode_proxy(body, ProxyFields("", "", "", True))
        if not fields.name:
            raise MissingField("name")
        if not fields.upstream:
            raise MissingField("upstream")
        async with self._lock:
            if fields.name in self.proxies:
                raise ProxyExists()
            proxy = self._new(fields)
            if fields.enabled:
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        """POST/PATCH /proxies/{name}: listen, upstream, enabled; missing keys keep theirs."""
        async with self._lock:
            proxy = self.get(name)
            current = ProxyFields(proxy.name, proxy.listen, proxy.upstream, proxy.enabled)
            fields = decode_proxy(body, current)
            if await proxy.differs(fields.listen, fields.upstream):
                await proxy.stop()
                proxy.listen, proxy.upstream = fields.listen, fields.upstream
            if fields.enabled:
                await proxy.start()
            else:
                await proxy.stop()
            return proxy

    async def delete(self, name: str) -> None:
        """DELETE /proxies/{name}: stop it and forget it."""
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            del self.proxies[name]

    async def populate(self, body: Any) -> list[Proxy]:
        """POST /populate and --config: create or replace many proxies.

        Every entry is checked first (nothing changes on a 400). A proxy with the same name,
        listen and upstream is left alone, toxics and all; a different one is replaced. Raises
        BadRequestBody/MissingField before any change, PopulateError after some.
        """
        entries = parse_populate(body)
        done: list[Proxy] = []
        async with self._lock:
            for fields in entries:
                try:
                    done.append(await self._add_or_replace(fields))
                except FaultProxyError as e:
                    raise PopulateError(e, done) from e
        return done

    async def _add_or_replace(self, fields: ProxyFields) -> Proxy:
        existing = self.proxies.get(fields.name)
        if existing is not None:
            if not await existing.differs(fields.listen, fields.upstream):
                return existing
            await existing.stop()
        proxy = self._new(fields)
        if fields.enabled:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    async def reset(self) -> None:
        """POST /reset: enable every proxy and remove every toxic; nothing is deleted."""
        async with self._lock:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                await proxy.toxics.reset()

    async def close(self) -> None:
        """Stop every proxy (server shutdown)."""
        async with self._lock:
            for proxy in self.proxies.values():
                await proxy.stop()
