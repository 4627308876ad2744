from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterator

import pytest
from multidict import CIMultiDict

from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.pipeline import Pipeline, does_nothing, settle


def make_exchange(path: str = "/") -> Exchange:
    return Exchange(
        ClientRequest("GET", path, "", CIMultiDict(), "203.0.113.1"), pop="pop-t", ray_id="r1"
    )


class Recorder:
    def __init__(
        self, name: str, log: list[str], answer: int | None = None, fail: bool = False
    ) -> None:
        self.name, self.log, self.answer, self.fail = name, log, answer, fail

    async def request(self, ex: Exchange) -> None:
        self.log.append(f"{self.name}.request")
        if self.fail:
            raise KeyError("boom")
        if self.answer is not None:
            ex.response = EdgeResponse(self.answer)

    async def response(self, ex: Exchange) -> None:
        self.log.append(f"{self.name}.response:{ex.response.status if ex.response else None}")


async def test_request_hooks_in_order_response_hooks_reversed() -> None:
    log: list[str] = []
    await Pipeline([Recorder("a", log), Recorder("b", log), Recorder("c", log, answer=200)]).run(
        make_exchange()
    )
    assert log == [
        "a.request",
        "b.request",
        "c.request",
        "c.response:200",
        "b.response:200",
        "a.response:200",
    ]


async def test_a_stage_that_answers_stops_the_request_path() -> None:
    log: list[str] = []
    await Pipeline(
        [Recorder("a", log), Recorder("waf", log, answer=403), Recorder("origin", log, answer=200)]
    ).run(make_exchange())
    assert log == ["a.request", "waf.request", "waf.response:403", "a.response:403"]


async def test_a_failing_stage_gives_500_and_outer_stages_still_see_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    ex = make_exchange()
    with caplog.at_level(logging.ERROR):
        await Pipeline(
            [
                Recorder("a", log),
                Recorder("bot", log, fail=True),
                Recorder("origin", log, answer=200),
            ]
        ).run(ex)
    assert ex.response is not None and ex.response.status == 500
    assert b"r1" in ex.response.body and b"pop-t" in ex.response.body
    assert isinstance(ex.error, KeyError)
    assert log == ["a.request", "bot.request", "bot.response:500", "a.response:500"]
    assert any(r.stage == "bot" for r in caplog.records if hasattr(r, "stage"))


async def test_a_module_panic_logs_one_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from edgelab.policy.failure import ModulePanic

    class Panics:
        name = "bot"

        async def request(self, ex: Exchange) -> None:
            raise ModulePanic("called Result::unwrap() on an Err value")

        async def response(self, ex: Exchange) -> None:
            return None

    ex = make_exchange()
    with caplog.at_level(logging.ERROR):
        await Pipeline([Panics()]).run(ex)
    assert ex.response is not None and ex.response.status == 500
    [record] = [r for r in caplog.records if r.name == "edgelab.edge.pipeline"]
    assert "unwrap" in record.getMessage() and record.exc_info is None


class SometimesWaits:
    """A plain-method stage: it returns None when done at once, an awaitable when it waits."""

    def __init__(
        self, name: str, log: list[str], wait: bool, answer: int | None = None, fail: bool = False
    ) -> None:
        self.name, self.log, self.wait, self.answer, self.fail = name, log, wait, answer, fail

    def request(self, ex: Exchange) -> Awaitable[None] | None:
        self.log.append(f"{self.name}.request")
        if self.fail:
            raise KeyError("boom")
        if not self.wait:
            self._answer(ex)
            return None
        return self._waited(ex)

    async def _waited(self, ex: Exchange) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name}.waited")
        self._answer(ex)

    def _answer(self, ex: Exchange) -> None:
        if self.answer is not None:
            ex.response = EdgeResponse(self.answer)

    def response(self, ex: Exchange) -> None:
        self.log.append(f"{self.name}.response:{ex.response.status if ex.response else None}")


async def test_plain_hooks_run_in_place_and_awaitables_they_return_are_awaited() -> None:
    log: list[str] = []
    await Pipeline(
        [
            SometimesWaits("a", log, wait=False),
            Recorder("b", log),
            SometimesWaits("c", log, wait=True),
            SometimesWaits("d", log, wait=False, answer=200),
            Recorder("origin", log, answer=502),
        ]
    ).run(make_exchange())
    assert log == [
        "a.request",
        "b.request",
        "c.request",
        "c.waited",
        "d.request",
        "d.response:200",
        "c.response:200",
        "b.response:200",
        "a.response:200",
    ]


async def test_a_plain_hook_that_raises_gives_500_like_an_async_one() -> None:
    log: list[str] = []
    ex = make_exchange()
    await Pipeline(
        [SometimesWaits("a", log, wait=False), SometimesWaits("bot", log, wait=False, fail=True)]
    ).run(ex)
    assert ex.response is not None and ex.response.status == 500
    assert isinstance(ex.error, KeyError)
    assert log == ["a.request", "bot.request", "bot.response:500", "a.response:500"]


async def test_settle_finishes_a_hook_call_either_way() -> None:
    log: list[str] = []
    for wait in (False, True):
        ex = make_exchange()
        await settle(SometimesWaits("s", log, wait=wait, answer=204).request(ex))
        assert ex.response is not None and ex.response.status == 204
    assert log == ["s.request", "s.request", "s.waited"]


class Quiet:
    """A stage whose hooks do nothing: the loop leaves them out, the order is unchanged."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def request(self, ex: Exchange) -> None:
        """Nothing on the way in."""

    async def response(self, ex: Exchange) -> None:
        return None


async def test_hooks_that_do_nothing_are_skipped_without_changing_who_sees_what() -> None:
    log: list[str] = []
    stages = [
        Recorder("a", log),
        Quiet("q1"),
        Recorder("waf", log, answer=403),
        Quiet("q2"),
        Recorder("origin", log, answer=200),
    ]
    pipeline = Pipeline(stages)
    assert [stage.name for _, stage, _, _ in pipeline._requests] == ["a", "waf", "origin"]
    await pipeline.run(make_exchange())
    assert log == ["a.request", "waf.request", "waf.response:403", "a.response:403"]


async def test_with_only_quiet_stages_the_request_still_gets_its_500() -> None:
    ex = make_exchange()
    await Pipeline([Quiet("a"), Quiet("b")]).run(ex)
    assert ex.response is not None and ex.response.status == 500


class Hooks:
    async def returns_none(self, ex: Exchange) -> None:
        return None

    async def passes(self, ex: Exchange) -> None:
        pass

    async def returns_value(self, ex: Exchange) -> int:
        return 1

    async def assigns(self, ex: Exchange) -> None:
        ex.ray_id = "x"

    async def returns_early(self, ex: Exchange) -> None:
        if ex.ray_id:
            return None
        ex.ray_id = "x"

    def not_async(self, ex: Exchange) -> None:
        return None

    def not_async_assigns(self, ex: Exchange) -> None:
        ex.ray_id = "x"

    def generator(self, ex: Exchange) -> Iterator[None]:
        yield None


@pytest.mark.parametrize(
    ("hook", "skipped"),
    [
        ("returns_none", True),
        ("passes", True),
        ("returns_value", False),
        ("assigns", False),
        ("returns_early", False),
        ("not_async", True),
        ("not_async_assigns", False),
        ("generator", False),
    ],
)
def test_does_nothing(hook: str, skipped: bool) -> None:
    assert does_nothing(getattr(Hooks(), hook)) is skipped


class Switchable(Recorder):
    """A stage with an `idle` flag, as the bot and fault stages keep one."""

    idle = False


async def test_an_idle_stage_is_passed_over_both_ways_while_it_is_idle() -> None:
    log: list[str] = []
    switch = Switchable("bot", log)
    pipeline = Pipeline([Recorder("a", log), switch, Recorder("origin", log, answer=200)])
    switch.idle = True
    await pipeline.run(make_exchange())
    switch.idle = False
    await pipeline.run(make_exchange())
    assert log == [
        "a.request",
        "origin.request",
        "origin.response:200",
        "a.response:200",
        "a.request",
        "bot.request",
        "origin.request",
        "origin.response:200",
        "bot.response:200",
        "a.response:200",
    ]
