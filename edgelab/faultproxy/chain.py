"""The toxics of one proxy, per direction, and the live links they apply to.

    toxics = ToxicCollection()
    spec = await toxics.add({"type": "latency", "stream": "upstream", "attributes": {"latency": 50}})
    await toxics.update("latency_upstream", {"attributes": {"jitter": 5}})
    await toxics.remove("latency_upstream")

Every change is applied to every open connection in that direction as well as new ones
(toxiproxy `toxic_collection.go` `chainAddToxic` ...). Body checks come in Toxiproxy's order:
bad body, invalid stream, invalid type, duplicate name, bad attributes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from edgelab.faultproxy.errors import (
    BadRequestBody,
    InvalidStream,
    InvalidToxicType,
    ToxicExists,
    ToxicNotFound,
)
from edgelab.faultproxy.stream import Direction
from edgelab.faultproxy.toxics import TOXICS
from edgelab.faultproxy.toxics.base import ToxicSpec, json_type, with_attributes

if TYPE_CHECKING:
    from edgelab.faultproxy.link import Link


def typed_field(body: dict[str, Any], key: str, kind: type, struct: str) -> Any:
    """`body[key]` if it has Go type `kind` (str, bool or float); None if absent or null.

    Raises BadRequestBody worded like Go's `json: cannot unmarshal ...`.
    """
    value = body.get(key)
    if value is None:
        return None
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        go = {str: "string", bool: "bool", float: "float32"}[kind]
        raise BadRequestBody(
            f"json: cannot unmarshal {json_type(value)} into Go struct field "
            f"{struct}.{key} of type {go}"
        )
    return float(value) if kind is float else value


def require_object(body: Any, go_type: str) -> dict[str, Any]:
    """`body` if it is a JSON object (`null` reads as `{}`, as Go decodes it); else BadRequestBody."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequestBody(
            f"json: cannot unmarshal {json_type(body)} into Go value of type {go_type}"
        )
    return body


class ToxicCollection:
    """Ordered toxic chains for both directions, one name space, applied to live links."""

    def __init__(self) -> None:
        self.chains: dict[Direction, list[ToxicSpec]] = {d: [] for d in Direction}
        self.links: dict[Direction, set[Link]] = {d: set() for d in Direction}
        self._lock = asyncio.Lock()

    def chain(self, direction: Direction) -> list[ToxicSpec]:
        """A copy of the toxics of one direction, in order."""
        return list(self.chains[direction])

    def all(self) -> list[ToxicSpec]:
        """Every toxic, upstream chain first (as Toxiproxy lists them)."""
        return [*self.chains[Direction.upstream], *self.chains[Direction.downstream]]

    def register(self, link: Link) -> None:
        self.links[link.direction].add(link)

    def unregister(self, link: Link) -> None:
        self.links[link.direction].discard(link)

    def get(self, name: str) -> ToxicSpec:
        """The toxic called `name`; raises ToxicNotFound."""
        for spec in self.all():
            if spec.name == name:
                return spec
        raise ToxicNotFound()

    def parse(self, body: Any) -> ToxicSpec:
        """A new toxic from a create body; raises the API errors in Toxiproxy's order."""
        body = require_object(body, "toxics.ToxicWrapper")
        name = typed_field(body, "name", str, "ToxicWrapper") or ""
        type_ = typed_field(body, "type", str, "ToxicWrapper") or ""
        stream = typed_field(body, "stream", str, "ToxicWrapper")
        stream = "downstream" if stream is None else stream
        toxicity = typed_field(body, "toxicity", float, "ToxicWrapper")
        toxicity = 1.0 if toxicity is None else toxicity
        direction = Direction.parse(stream)
        if direction is None:
            raise InvalidStream()
        name = name or f"{type_}_{stream}"
        cls = TOXICS.get(type_)
        if cls is None:
            raise InvalidToxicType()
        if any(spec.name == name for spec in self.all()):
            raise ToxicExists()
        toxic = with_attributes(cls(), body.get("attributes"))
        return ToxicSpec(name, type_, stream, direction, toxicity, toxic)

    async def add(self, body: Any) -> ToxicSpec:
        """Create a toxic and add it to every live link of its direction."""
        async with self._lock:
            spec = self.parse(body)
            self.chains[spec.direction].append(spec)
            links = list(self.links[spec.direction])
            await asyncio.gather(*(link.add(spec) for link in links))
            return spec

    async def update(self, name: str, body: Any) -> ToxicSpec:
        """Merge `attributes` and `toxicity` into toxic `name`; re-run it on live links."""
        async with self._lock:
            old = self.get(name)
            body = require_object(body, "struct { Attributes interface {}; Toxicity float32 }")
            toxicity = typed_field(body, "toxicity", float, "Toxicity")
            toxic = with_attributes(old.toxic, body.get("attributes"))
            spec = dataclasses.replace(
                old, toxic=toxic, toxicity=old.toxicity if toxicity is None else toxicity
            )
            chain = self.chains[spec.direction]
            index = chain.index(old)
            chain[index] = spec
            links = list(self.links[spec.direction])
            await asyncio.gather(*(link.update(index, spec) for link in links))
            return spec

    async def remove(self, name: str) -> None:
        """Take toxic `name` out of its chain and every live link."""
        async with self._lock:
            await self._remove(self.get(name))

    async def _remove(self, spec: ToxicSpec) -> None:
        chain = self.chains[spec.direction]
        index = chain.index(spec)
        del chain[index]
        links = list(self.links[spec.direction])
        await asyncio.gather(*(link.remove(index) for link in links))

    async def reset(self) -> None:
        """Remove every toxic (toxiproxy `ResetToxics`)."""
        async with self._lock:
            for spec in reversed(self.all()):
                await self._remove(spec)
