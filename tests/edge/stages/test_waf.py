"""The WAF stage without a server: verdicts, block page, pushed rules and killswitches."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from edgelab.config.waf import WafOptions
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.pipeline import Pipeline, settle
from edgelab.edge.stages.waf import WafStage
from edgelab.policy.failure import FailurePolicy
from edgelab.policy.waf.rules import named_ruleset_document

SQLI = "id=1%27%20OR%20%271%27%3D%271"


class ChunkStream:
    """Stands in for aiohttp's StreamReader: `read(n)` and `readany()` over given chunks."""

    def __init__(self, data: bytes, chunk: int = 1000) -> None:
        self.chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        self.reads = 0

    async def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if not self.chunks:
            return b""
        head = self.chunks.pop(0)
        if n >= 0 and len(head) > n:
            head, rest = head[:n], head[n:]
            self.chunks.insert(0, rest)
        return head

    async def readany(self) -> bytes:
        return await self.read()


def exchange(
    query: str = "",
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> Exchange:
    h = CIMultiDict(headers or {})
    stream = ChunkStream(body) if body is not None else None
    if body is not None and not chunked:
        h["Content-Length"] = str(len(body))
    if chunked:
        h["Transfer-Encoding"] = "chunked"
    req = ClientRequest(
        method,
        "/item",
        query,
        h,
        "198.51.100.9",
        body_stream=stream,
        content_length=None if body is None or chunked else len(body),
    )
    return Exchange(req, pop="pop-t", ray_id="00ff00ff00ff00ff-pop-t")


def make_stage(**options: Any) -> tuple[WafStage, ArtifactRegistry, CollectorRegistry]:
    artifacts, registry = ArtifactRegistry(), CollectorRegistry()
    stage = WafStage(WafOptions(**options), artifacts, clock=lambda: 100.0)
    stage.register_metrics(registry)
    return stage, artifacts, registry


class Answer:
    name = "origin"

    async def request(self, ex: Exchange) -> None:
        ex.response = EdgeResponse(200, body=b"origin")

    async def response(self, ex: Exchange) -> None:
        return None


async def through(stage: WafStage, ex: Exchange) -> int:
    """Status the client would get with the WAF in front of an answering origin."""
    await Pipeline([stage, Answer()]).run(ex)
    assert ex.response is not None
    return ex.response.status


def killswitch(version: int, rules: list[Any], waf: bool = False) -> Artifact:
    doc = json.dumps({"modules": {"waf": waf, "bot": False}, "rules": rules}).encode()
    return Artifact("killswitches", version, doc)


async def test_an_attack_gets_the_block_page_naming_rule_and_ray() -> None:
    stage, _, registry = make_stage()
    ex = exchange(SQLI)
    await settle(stage.request(ex))
    assert ex.response is not None and ex.response.status == 403
    body = ex.response.body.decode()
    assert "949110" in body and "00ff00ff00ff00ff-pop-t" in body and "pop-t" in body
    assert [(v.stage, v.action, v.detail) for v in ex.verdicts] == [("waf", "block", "949110")]
    assert registry.get_sample_value(
        "edgelab_waf_rule_matches_total", {"rule_id": "942100", "action": "score"}
    )
    assert registry.get_sample_value("edgelab_waf_requests_total", {"outcome": "block"}) == 1


async def test_a_benign_request_passes_untouched() -> None:
    stage, _, registry = make_stage()
    ex = exchange("q=O%27Reilly%20books")
    await settle(stage.request(ex))
    assert ex.response is None and ex.verdicts == []
    assert registry.get_sample_value("edgelab_waf_requests_total", {"outcome": "pass"}) == 1


async def test_log_mode_evaluates_but_never_blocks() -> None:
    stage, _, registry = make_stage(mode="log")
    ex = exchange(SQLI)
    await settle(stage.request(ex))
    assert ex.response is None and ex.verdicts[0].action == "log"
    assert registry.get_sample_value("edgelab_waf_requests_total", {"outcome": "log_block"}) == 1


async def test_off_mode_evaluates_nothing() -> None:
    stage, _, registry = make_stage(mode="off")
    ex = exchange(SQLI)
    await settle(stage.request(ex))
    assert ex.response is None
    assert registry.get_sample_value("edgelab_waf_requests_total", {"outcome": "off"}) == 1


async def test_a_pushed_ruleset_replaces_the_old_one_as_a_whole() -> None:
    stage, artifacts, _ = make_stage()
    only_path = {
        "rules": [
            {
                "id": 7,
                "msg": "no /item",
                "action": "block",
                "phase": "headers",
                "when": [{"targets": ["path"], "op": "prefix", "arg": "/item"}],
            }
        ]
    }
    outcome = artifacts.apply(Artifact("waf-rules", 3, json.dumps(only_path).encode()))
    assert outcome is ArtifactOutcome.APPLIED and artifacts.applied["waf-rules"] == 3
    ex = exchange("q=fine")
    await settle(stage.request(ex))
    assert ex.response is not None and b"rule 7" in ex.response.body
    assert stage.status()["rules_version"] == 3 and stage.status()["rules"] == 1


@pytest.mark.parametrize(
    ("policy", "outcome", "status"),
    [
        (FailurePolicy.REJECT, ArtifactOutcome.REJECTED, 403),  # last known good still blocks
        (FailurePolicy.PANIC, ArtifactOutcome.MODULE_FAILED, 500),
        (FailurePolicy.FAIL_OPEN, ArtifactOutcome.MODULE_FAILED, 200),  # unprotected
        (FailurePolicy.DEGRADE, ArtifactOutcome.MODULE_FAILED, 200),  # the rule that validated
    ],
)
async def test_a_bad_ruleset_under_each_policy(
    policy: FailurePolicy, outcome: ArtifactOutcome, status: int
) -> None:
    stage, artifacts, registry = make_stage(failure_policy=policy)
    bad = {
        "rules": [
            {
                "id": 8,
                "msg": "fine",
                "action": "log",
                "when": [{"targets": ["path"], "op": "prefix", "arg": "/"}],
            },
            {"id": 9, "msg": "broken", "action": "block", "when": [{"targets": ["?"], "op": "x"}]},
        ]
    }
    assert artifacts.apply(Artifact("waf-rules", 4, json.dumps(bad).encode())) is outcome
    assert await through(stage, exchange(SQLI)) == status
    assert registry.get_sample_value(
        "edgelab_waf_artifacts_total", {"kind": "waf-rules", "outcome": str(outcome)}
    )


@pytest.mark.parametrize(
    ("policy", "outcome", "attack", "benign"),
    [
        # 2025-12-05: the killswitch is taken in, then every request through the WAF gets 500.
        (FailurePolicy.PANIC, ArtifactOutcome.MODULE_FAILED, 500, 500),
        # The hardened ingestion refuses it: the managed rules keep blocking.
        (FailurePolicy.REJECT, ArtifactOutcome.REJECTED, 403, 200),
        # Skipped on the error: traffic flows, attacks included.
        (FailurePolicy.FAIL_OPEN, ArtifactOutcome.MODULE_FAILED, 200, 200),
        # The fixed code path: the managed group is off, nothing fails.
        (FailurePolicy.DEGRADE, ArtifactOutcome.APPLIED, 200, 200),
    ],
)
async def test_killswitch_on_an_execute_rule_under_each_policy(
    policy: FailurePolicy, outcome: ArtifactOutcome, attack: int, benign: int
) -> None:
    stage, artifacts, _ = make_stage(failure_policy=policy)
    assert artifacts.apply(killswitch(1, ["100001"])) is outcome
    assert await through(stage, exchange(SQLI)) == attack
    assert await through(stage, exchange("q=hello")) == benign


@pytest.mark.parametrize("policy", list(FailurePolicy))
async def test_killswitch_on_a_plain_rule_and_on_the_module(policy: FailurePolicy) -> None:
    stage, artifacts, _ = make_stage(failure_policy=policy)
    assert artifacts.apply(killswitch(1, [990001])) is ArtifactOutcome.APPLIED
    assert await through(stage, exchange(SQLI)) == 403
    assert artifacts.apply(killswitch(2, [], waf=True)) is ArtifactOutcome.APPLIED
    assert await through(stage, exchange(SQLI)) == 200  # 2019-07-02's global WAF terminate
    assert artifacts.apply(killswitch(3, [])) is ArtifactOutcome.APPLIED
    assert await through(stage, exchange(SQLI)) == 403


async def test_reject_refuses_a_killswitch_naming_an_unknown_rule() -> None:
    stage, artifacts, _ = make_stage(failure_policy=FailurePolicy.REJECT)
    assert artifacts.apply(killswitch(1, [123456])) is ArtifactOutcome.REJECTED
    assert artifacts.apply(Artifact("killswitches", 2, b"{not json")) is ArtifactOutcome.REJECTED
    assert stage.status()["killed_rules"] == []


async def test_a_malformed_killswitch_under_panic_fails_the_module() -> None:
    stage, artifacts, _ = make_stage(failure_policy=FailurePolicy.PANIC)
    bad = Artifact("killswitches", 2, b"{not json")
    assert artifacts.apply(bad) is ArtifactOutcome.MODULE_FAILED
    assert await through(stage, exchange("q=hello")) == 500


async def test_the_2019_ruleset_can_be_pushed_and_runs_in_log_mode() -> None:
    stage, artifacts, registry = make_stage(regex_engine="re2")
    doc = named_ruleset_document("2019-07-02")
    assert artifacts.apply(Artifact("waf-rules", 9, doc)) is ArtifactOutcome.APPLIED
    ex = exchange("x=1;a=b")
    await settle(stage.request(ex))
    assert ex.response is None  # simulate mode: evaluated, never blocks
    assert registry.get_sample_value(
        "edgelab_waf_rule_matches_total", {"rule_id": "100015", "action": "log"}
    )


async def test_a_body_within_the_limit_is_buffered_and_inspected() -> None:
    stage, _, _ = make_stage()
    body = b"comment=hello&id=1%27%20OR%20%271%27%3D%271"
    ex = exchange(
        method="POST", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    await settle(stage.request(ex))
    assert ex.response is not None and ex.response.status == 403
    ok = exchange(
        method="POST",
        body=b"comment=hello",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await settle(stage.request(ok))
    assert ok.response is None and ok.request.body == b"comment=hello"


async def test_a_request_without_a_body_never_touches_the_stream() -> None:
    stage, _, _ = make_stage()
    ex = exchange("q=1")
    ex.request.body_stream = ChunkStream(b"")
    await settle(stage.request(ex))
    assert ex.request.body_stream.reads == 0 and ex.request.body is None


async def drain(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in stream])


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_limit_streams_on_whole_after_its_start_was_inspected(
    chunked: bool,
) -> None:
    stage, _, _ = make_stage(inspect_body_bytes=4096)
    tail_attack = b"a=" + b"x" * 5000 + b"&id=1%27%20OR%20%271%27%3D%271"
    ex = exchange(method="POST", body=tail_attack, chunked=chunked)
    await settle(stage.request(ex))
    assert ex.response is None  # the attack is past the inspected bytes: a CDN's blind spot
    assert ex.request.body is None
    assert await drain(ex.request.body_stream) == tail_attack  # forwarded in full
    head_attack = b"id=1%27%20OR%20%271%27%3D%271&a=" + b"x" * 5000
    blocked = exchange(method="POST", body=head_attack, chunked=chunked)
    await settle(stage.request(blocked))
    assert blocked.response is not None and blocked.response.status == 403


async def test_a_chunked_body_within_the_limit_keeps_its_framing() -> None:
    stage, _, _ = make_stage()
    ex = exchange(method="POST", body=b"a=1&b=2", chunked=True)
    await settle(stage.request(ex))
    assert ex.response is None and ex.request.body is None
    assert await drain(ex.request.body_stream) == b"a=1&b=2"


async def test_reconfigure_swaps_mode_and_engine_keeping_pushed_killswitches() -> None:
    stage, artifacts, _ = make_stage()
    assert artifacts.apply(killswitch(1, [942100])) is ArtifactOutcome.APPLIED
    stage.reconfigure(WafOptions(mode="log", regex_engine="re", paranoia_level=2))
    assert stage.status()["regex_engine"] == "re" and stage.status()["killed_rules"] == [942100]
    ex = exchange(SQLI)
    await settle(stage.request(ex))
    assert ex.response is None and ex.verdicts[0].action == "log"


@pytest.mark.parametrize("engine", ["re", "re2"])
async def test_undecodable_client_bytes_never_make_the_waf_fail(engine: str) -> None:
    stage, _, _ = make_stage(regex_engine=engine, failure_policy=FailurePolicy.PANIC)
    ex = exchange(
        "q=%ED%A0%80",
        method="POST",
        body=b'{"a": "\\ud800<script>alert(1)</script>"}',
        headers={"User-Agent": "sqlmap\udcff", "Content-Type": "application/json"},
    )
    await settle(stage.request(ex))
    assert ex.response is not None and ex.response.status == 403


@pytest.mark.parametrize("depth", [600, 50_000])
async def test_json_nested_too_deeply_is_blocked_not_a_500(depth: int) -> None:
    """Python's JSON parser raises RecursionError near 1,000 levels: it once made the stage
    fail (a 500 and a traceback for a client's body, even under `panic`). Now the body is a
    parse error the protocol rule 200002 scores, as ModSecurity's JSON depth limit is."""
    stage, _, registry = make_stage(failure_policy=FailurePolicy.PANIC)
    ex = exchange(
        method="POST",
        body=b"[" * depth + b"1" + b"]" * depth,
        headers={"Content-Type": "application/json"},
    )
    await settle(stage.request(ex))
    assert ex.response is not None and ex.response.status == 403
    assert registry.get_sample_value(
        "edgelab_waf_rule_matches_total", {"rule_id": "200002", "action": "score"}
    )


async def test_config_exclusions_hold_across_pushed_rules_killswitches_and_reconfigure() -> None:
    """`waf.exclusions` (here: the SQLi rules off for the `id` argument on /item) stays in force
    when a ruleset is pushed, a killswitch arrives or the section is reconfigured; a pushed
    document's own `exclusions` add to it; without them the same request is blocked."""
    off = {"tags": ["sqli"], "path_prefix": "/item", "targets": ["args:id"]}
    stage, artifacts, _ = make_stage(exclusions=[off])
    assert await through(stage, exchange(SQLI)) == 200
    doc = json.loads(named_ruleset_document("managed"))
    assert (
        artifacts.apply(Artifact("waf-rules", 2, json.dumps(doc).encode()))
        is ArtifactOutcome.APPLIED
    )
    assert await through(stage, exchange(SQLI)) == 200
    assert artifacts.apply(killswitch(3, [941100])) is ArtifactOutcome.APPLIED
    assert await through(stage, exchange(SQLI)) == 200
    stage.reconfigure(WafOptions(exclusions=[off], paranoia_level=2))  # type: ignore[list-item]
    assert await through(stage, exchange(SQLI)) == 200
    stage.reconfigure(WafOptions())
    assert await through(stage, exchange(SQLI)) == 403
    doc["exclusions"] = [off]
    assert (
        artifacts.apply(Artifact("waf-rules", 4, json.dumps(doc).encode()))
        is ArtifactOutcome.APPLIED
    )
    assert await through(stage, exchange(SQLI)) == 200 and stage.status()["exclusions"] == 1


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_a_large_body_is_inspected_in_the_worker_while_the_loop_serves_others() -> None:
    """A body of `worker_body_bytes` or more waits for the worker thread (held busy here by a
    job that waits for an event) while the event loop still answers a GET; the verdict is the
    same as on the loop."""
    import asyncio
    import threading

    from edgelab.edge.stages.waf import BODY_WORKER

    stage, _, _ = make_stage(worker_body_bytes=1024)
    body = b"comment=" + b"x" * 2000 + b"&id=1%27%20OR%20%271%27%3D%271"
    release = threading.Event()
    busy = BODY_WORKER.run(release.wait)
    try:
        pending = stage.request(exchange(method="POST", body=body, headers=FORM))
        assert pending is not None
        large = asyncio.ensure_future(pending)
        for _ in range(100):  # let the task run until it hands its body to the worker
            if BODY_WORKER.queued:
                break
            await asyncio.sleep(0)
        assert BODY_WORKER.queued == 1  # in the worker's queue, not inspected on the loop
        assert await through(stage, exchange(SQLI)) == 403  # served meanwhile
        assert not large.done()  # still queued behind the busy worker
    finally:
        release.set()
    await busy
    await large
    ex = exchange(method="POST", body=body, headers=FORM)
    assert await through(stage, ex) == 403
    on_loop, _, _ = make_stage(worker_body_bytes=0)
    assert await through(on_loop, exchange(method="POST", body=body, headers=FORM)) == 403


@pytest.mark.parametrize("policy", [FailurePolicy.PANIC, FailurePolicy.FAIL_OPEN])
async def test_an_error_in_the_worker_follows_the_failure_policy(policy: FailurePolicy) -> None:
    """An engine error raised in the worker thread (a killed `execute` rule of the body phase,
    the 2025-12-05 path) reaches the stage as on the event loop: 500, or skipped (fail-open)."""
    stage, artifacts, registry = make_stage(worker_body_bytes=1, failure_policy=policy)
    doc = {
        "rules": [
            {
                "id": 7,
                "msg": "body group",
                "phase": "body",
                "action": "execute",
                "when": [{"targets": ["args"], "op": "contains", "arg": "x"}],
            }
        ]
    }
    assert artifacts.apply(Artifact("waf-rules", 2, json.dumps(doc).encode()))
    artifacts.apply(killswitch(3, [7]))
    ex = exchange(method="POST", body=b"a=x", headers=FORM)
    assert await through(stage, ex) == (500 if policy is FailurePolicy.PANIC else 200)
    skipped = registry.get_sample_value("edgelab_waf_requests_total", {"outcome": "skipped_error"})
    assert skipped == (1 if policy is FailurePolicy.FAIL_OPEN else None)


def test_worker_body_bytes_is_validated() -> None:
    assert WafOptions().worker_body_bytes == 16 * 1024
    with pytest.raises(ValueError):
        WafOptions(worker_body_bytes=-1)
