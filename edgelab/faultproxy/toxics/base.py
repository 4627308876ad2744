"""The contract every toxic follows, and the stub that connects it to its neighbours.

    @dataclass
    class NoopToxic:
        async def pipe(self, stub: ToxicStub) -> None:
            while (chunk := await stub.recv()) is not None:
                await stub.send(chunk)
            await stub.close()

A toxic is a dataclass whose fields are Toxiproxy's JSON `attributes` (same names, same units)
with one coroutine, `pipe`, that reads chunks from `stub.recv()` and writes them (changed,
delayed, or not at all) with `stub.send()`, until the input ends (`None`), when it calls
`stub.close()` and returns. Interrupting a toxic is cancelling its task: a toxic that holds a
chunk when `CancelledError` arrives hands it on with `stub.flush()` before re-raising, so an API
change never loses bytes (toxiproxy `toxics/toxic.go`, `CREATING_TOXICS.md`).

Optional members, looked up with `getattr`, as toxiproxy's small optional interfaces:
- `buffer_size: int` (class attribute): how many chunks may wait in the toxic's input
  (`BufferedToxic`; latency uses 1024 so reading continues while chunks are held).
- `new_state() -> object`: per-link state kept across re-runs, in `stub.state` (`StatefulToxic`).
- `cleanup(stub)`: called when the toxic is removed from a live link (`CleanupToxic`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from edgelab.faultproxy.errors import BadRequestBody
from edgelab.faultproxy.stream import Chunk, ChunkQueue, Direction

DEFAULT_BUFFER = 2
"""Chunks that may wait between two stages: small, so a slow toxic pushes back on the socket."""


class ToxicStub:
    """One toxic's place in a link: its input queue, its output (the next stage's input)."""

    def __init__(
        self,
        input: ChunkQueue,
        output: ChunkQueue,
        rng: random.Random,
        state: object = None,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self.input = input
        """Where chunks for this toxic arrive; `None` = the source ended."""
        self.output = output
        """Where this toxic sends; replaced by the link only while the toxic is stopped."""
        self.rng = rng
        """This connection's generator (seeded from the server's): toxicity, jitter, slicing."""
        self.state = state
        """The toxic's `new_state()`, kept while the toxic stays in this link."""
        self.closed = False
        """True once this stage has ended its output (sent `None`)."""
        self._on_reset = on_reset

    async def recv(self) -> Chunk | None:
        """The next chunk, or None when the input has ended."""
        if not self.input.empty():
            return self.input.get_nowait()
        return await self.input.get()

    async def send(self, chunk: Chunk | None) -> None:
        """Pass `chunk` on, waiting while the next stage is full; never loses it on cancel."""
        out = self.output
        if not out.full():
            out.put_nowait(chunk)
            return
        try:
            await out.put(chunk)
        except asyncio.CancelledError:
            out.force_put(chunk)  # asyncio.Queue.put puts nothing when cancelled
            raise

    def flush(self, chunk: Chunk | None) -> None:
        """Pass `chunk` on at once, past the next stage's limit: for cancellation handlers."""
        self.output.force_put(chunk)

    async def close(self, reset: bool = False) -> None:
        """End this stage's output; the link then closes its destination socket.

        With `reset`, the connection's sockets are closed with a TCP RST (SO_LINGER 0).
        """
        if self.closed:
            return
        self.closed = True
        if reset and self._on_reset is not None:
            self._on_reset()
        self.output.force_put(None)  # never waits: closing must work on a stuck link


class Toxic(Protocol):
    """A network fault applied to one direction of a proxy's connections."""

    async def pipe(self, stub: ToxicStub) -> None:
        """Move chunks from `stub.recv()` to `stub.send()` until the input ends or cancelled."""
        ...


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as the API knows it (toxiproxy's `ToxicWrapper`)."""

    name: str
    """Unique across both directions of a proxy; default `<type>_<stream>`."""
    type: str
    """A key of `TOXICS`."""
    stream: str
    """As the client sent it (`upstream`/`downstream`, any case); `direction` is the parsed one."""
    direction: Direction
    toxicity: float
    """Probability that the toxic runs on a link (else a noop); rolled per stage run."""
    toxic: Toxic
    """The attributes, as a dataclass instance."""

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's JSON for a toxic, in its key order."""
        return {
            "attributes": attributes_of(self.toxic),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def attributes_of(toxic: object) -> dict[str, Any]:
    """The toxic's attributes as JSON (every field, zero values included, as Go marshals)."""
    if not dataclasses.is_dataclass(toxic):
        return {}
    return {f.name: getattr(toxic, f.name) for f in dataclasses.fields(toxic)}


def json_type(value: object) -> str:
    """The JSON type name of a decoded value, as Go's decoder names it in errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}" if isinstance(value, float) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def with_attributes(toxic: Any, given: object) -> Any:
    """A copy of `toxic` with the attributes in `given` (a decoded JSON object) applied.

    Go's decoding rules: missing keys keep their value (0 for a new toxic), unknown keys are
    ignored, `null` leaves a field alone, and a wrong JSON type is a 400 `bad request body`.
    Raises BadRequestBody.
    """
    if given is None:
        return toxic
    cls_name = type(toxic).__name__
    if not isinstance(given, dict):
        raise BadRequestBody(
            f"json: cannot unmarshal {json_type(given)} into Go struct field "
            f"ToxicWrapper.attributes of type toxics.{cls_name}"
        )
    hints = typing.get_type_hints(type(toxic))
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(toxic):
        value = given.get(f.name)
        if value is None:
            continue
        kind = hints[f.name]
        ok = (
            isinstance(value, int) and not isinstance(value, bool)
            if kind is int
            else isinstance(value, int | float) and not isinstance(value, bool)
        )
        if not ok:
            go_type = "int64" if kind is int else "float32"
            raise BadRequestBody(
                f"json: cannot unmarshal {json_type(value)} into Go struct field "
                f"{cls_name}.attributes.{f.name} of type {go_type}"
            )
        changes[f.name] = kind(value)
    return dataclasses.replace(toxic, **changes) if changes else toxic


def toxic_buffer_size(toxic: object) -> int:
    """The input queue size a toxic asks for (`buffer_size`), at least DEFAULT_BUFFER."""
    size = getattr(toxic, "buffer_size", DEFAULT_BUFFER)
    return max(int(size), DEFAULT_BUFFER)


def new_state(toxic: object) -> object:
    """The toxic's fresh per-link state, or None when it keeps none."""
    factory: Callable[[], object] | None = getattr(toxic, "new_state", None)
    return factory() if factory is not None else None


def registry_check(toxics: Mapping[str, type[Any]]) -> None:
    """Assert every registered toxic is a dataclass with a `pipe` coroutine (import-time)."""
    for name, cls in toxics.items():
        assert dataclasses.is_dataclass(cls), name
        assert asyncio.iscoroutinefunction(getattr(cls, "pipe", None)), name
