"""One direction of one proxied connection: reader -> noop -> toxics... -> writer.

    link = Link(Direction.upstream, chain, dest=upstream_side, rng=rng, on_reset=conn.reset)
    link.start()
    client_side.attach(link.input)     # the socket reader feeds the first stage
    await link.add(spec)               # a toxic added through the API joins the live link

Each stage runs one toxic (or a noop, when its toxicity roll says so) as a task between two
`ChunkQueue`s; the writer task writes the last queue to the destination socket and closes it at
the end of the stream, which ends the other direction in turn, as toxiproxy's `link.go` does.
Interrupting a stage is cancelling its task; the toxic hands on what it holds, so adding,
updating or removing a toxic on a live link loses no byte that no toxic drops.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

from edgelab.faultproxy.sockets import Side
from edgelab.faultproxy.stream import Chunk, ChunkQueue, Direction
from edgelab.faultproxy.toxics.base import (
    Toxic,
    ToxicSpec,
    ToxicStub,
    new_state,
    toxic_buffer_size,
)
from edgelab.faultproxy.toxics.noop import NoopToxic

logger = logging.getLogger(__name__)

NOOP = NoopToxic()


class Stage:
    """One toxic's slot in a link: its stub and the task running it."""

    def __init__(
        self,
        spec: ToxicSpec | None,
        output: ChunkQueue,
        rng: random.Random,
        on_reset: Callable[[], None],
    ) -> None:
        self.spec = spec
        """None for the hidden noop at the head of every link."""
        toxic = spec.toxic if spec is not None else NOOP
        self.stub = ToxicStub(
            ChunkQueue(toxic_buffer_size(toxic)), output, rng, new_state(toxic), on_reset
        )
        self.task: asyncio.Task[None] | None = None
        self.running: Toxic = NOOP
        """What the last run rolled: the toxic, or a noop."""

    def run(self) -> None:
        """Start the toxic, rolling its toxicity (toxiproxy `ToxicStub.Run`)."""
        spec = self.spec
        if spec is not None and self.stub.rng.random() < spec.toxicity:
            self.running = spec.toxic
        else:
            self.running = NOOP
        self.task = asyncio.get_running_loop().create_task(self._pipe(self.running))

    async def _pipe(self, toxic: Toxic) -> None:
        try:
            await toxic.pipe(self.stub)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("toxic %s failed; passing data through", self.spec)
            self.running = NOOP
            await NOOP.pipe(self.stub)
            return
        if not self.stub.closed:
            await self.stub.close()

    async def interrupt(self) -> bool:
        """Stop the toxic (it hands on what it holds); False if the stage had already ended."""
        task = self.task
        if task is None or task.done() or self.stub.closed:
            return False
        task.cancel()
        await asyncio.wait({task})
        return not self.stub.closed


class Link:
    """The stages and writer of one direction of one connection."""

    def __init__(
        self,
        direction: Direction,
        chain: Sequence[ToxicSpec],
        dest: Side,
        rng: random.Random,
        on_reset: Callable[[], None],
    ) -> None:
        self.direction = direction
        self.dest = dest
        self.rng = rng
        self._on_reset = on_reset
        self.sent = 0
        """Bytes written to `dest`."""
        self.output = ChunkQueue(toxic_buffer_size(NOOP))
        """The writer's input: the last stage's output."""
        self.stages: list[Stage] = []
        out = self.output
        for spec in reversed([None, *chain]):
            stage = Stage(spec, out, rng, on_reset)
            self.stages.insert(0, stage)
            out = stage.stub.input
        self.writer: asyncio.Task[None] | None = None
        self._writer_idle = False
        """True while the writer waits on an empty output queue (see `_write_now`)."""
        self.closed = False
        self._lock = asyncio.Lock()

    @property
    def input(self) -> ChunkQueue:
        """Where the socket reader puts chunks (the hidden noop's input)."""
        return self.stages[0].stub.input

    def start(self) -> None:
        for stage in self.stages:
            stage.run()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def _write_now(self, chunk: Chunk) -> bool:
        """The output queue's shortcut: write at once while the writer task is idle."""
        dest = self.dest
        if not self._writer_idle or dest.write_paused or dest.closing:
            return False
        dest.write(chunk.data)
        self.sent += len(chunk.data)
        return True

    async def _write(self) -> None:
        dest, queue = self.dest, self.output
        queue.direct = self._write_now
        ended = False
        while not ended:
            if queue.empty():
                self._writer_idle = True
                try:
                    chunk = await queue.get()
                finally:
                    self._writer_idle = False
            else:
                chunk = queue.get_nowait()
            if chunk is None:
                break
            data = [chunk.data]
            while not queue.empty():  # everything already waiting goes out in one writev
                more = queue.get_nowait()
                if more is None:
                    ended = True
                    break
                data.append(more.data)
            if dest.closing:
                continue  # the peer is gone: drain so that upstream stages never block
            if len(data) == 1:
                dest.write(data[0])
            else:
                dest.writelines(data)
            self.sent += sum(map(len, data))
            if dest.write_paused:
                await dest.drained()
        queue.direct = None
        dest.close()

    def stop(self) -> None:
        """Tear down at once (proxy disabled or connection gone): no flushing."""
        self.closed = True
        for stage in self.stages:
            if stage.task is not None:
                stage.task.cancel()
        if self.writer is not None:
            self.writer.cancel()

    # -- live changes (toxiproxy link.go AddToxic / UpdateToxic / RemoveToxic) -------------

    def _rerun(self, *stages: Stage) -> None:
        """Restart interrupted stages, unless the connection went away while we waited."""
        if not self.closed:
            for stage in stages:
                stage.run()

    async def add(self, spec: ToxicSpec) -> None:
        """Append a stage for `spec` behind the current last one."""
        async with self._lock:
            if self.closed:
                return
            last = self.stages[-1]
            stage = Stage(spec, last.stub.output, self.rng, self._on_reset)
            self.stages.append(stage)
            if await last.interrupt():
                last.stub.output = stage.stub.input
                self._rerun(stage, last)
            # else: the link already ended upstream of the new stage; it never runs

    async def update(self, index: int, spec: ToxicSpec) -> None:
        """Re-run toxic `index` (0 = first toxic) with new attributes or toxicity."""
        async with self._lock:
            if self.closed:
                return
            stage = self.stages[index + 1]
            stage.spec = spec
            if await stage.interrupt():
                self._rerun(stage)

    async def remove(self, index: int) -> None:
        """Take toxic `index` out; what it buffered moves on to the next stage."""
        async with self._lock:
            if self.closed:
                return
            i = index + 1
            stage, prev = self.stages[i], self.stages[i - 1]
            ran = stage.running
            if not await stage.interrupt():
                del self.stages[i]
                return
            cleanup = getattr(ran, "cleanup", None)
            if cleanup is not None:
                await cleanup(stage.stub)
                if stage.stub.closed:
                    del self.stages[i]
                    return
            prev_running = await prev.interrupt()
            buffered = stage.stub.input
            while not buffered.empty():
                stage.stub.output.force_put(buffered.get_nowait())
            prev.stub.output = stage.stub.output
            del self.stages[i]
            if prev_running:
                self._rerun(prev)
