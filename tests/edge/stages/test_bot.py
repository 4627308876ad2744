"""The bot stage alone: an Exchange in, a verdict out, no server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry, generate_latest

from edgelab.config.bot import BotOptions, BotRule
from edgelab.controlplane.mutations import mutate
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry
from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.edge.stages.bot import BotStage, default_feature_file
from edgelab.errors import ConfigError
from edgelab.policy.failure import FailurePolicy, ModulePanic
from edgelab.testing.clients import CLIENT_PROFILES
from tests.metrics import metric_value

GOOD = default_feature_file()
DOUBLED = mutate(GOOD, "duplicate-rows")
RULE = BotRule(id="login", path_prefix="/login", score_below=30)


def exchange(profile: str = "chrome", path: str = "/login", method: str = "POST") -> Exchange:
    headers = CIMultiDictProxy(CIMultiDict([("Host", "x"), *CLIENT_PROFILES[profile]]))
    ex = Exchange(ClientRequest(method, path, "", headers, "198.51.100.7"), pop="t", ray_id="r")
    ex.upstream_headers = CIMultiDict()
    return ex


def stage(policy: str = "panic") -> tuple[BotStage, ArtifactRegistry]:
    registry = ArtifactRegistry()
    options = BotOptions.model_validate({"failure_policy": policy, "rules": [RULE]})
    return BotStage(options, registry, clock=lambda: 0.0), registry


def metrics_of(s: BotStage) -> str:
    reg = CollectorRegistry()
    s.register_metrics(reg)
    return generate_latest(reg).decode()


async def test_browsers_pass_with_their_score_sent_upstream_bots_are_blocked() -> None:
    s, registry = stage()
    assert registry.applied == {"bot-features": 0}
    ok = exchange("chrome")
    s.request(ok)
    assert ok.response is None and ok.notes["bot_score"] > 80
    assert ok.upstream_headers is not None
    assert ok.upstream_headers["X-Edgelab-Bot-Score"] == str(ok.notes["bot_score"])
    bot = exchange("python-requests")
    s.request(bot)
    assert bot.response is not None and bot.response.status == 403
    assert [(v.stage, v.action) for v in bot.verdicts] == [("bot", "block")]
    assert bot.verdicts[0].detail.startswith("login score=")


@pytest.mark.parametrize("bad", [DOUBLED, mutate(GOOD, "invalid-syntax"), b"[{"])
async def test_panic_every_request_raises(bad: bytes) -> None:
    s, registry = stage("panic")
    assert registry.apply(Artifact("bot-features", 5, bad)) is ArtifactOutcome.MODULE_FAILED
    assert registry.applied["bot-features"] == 5
    for path in ("/login", "/page/1", "/static/a.js"):
        with pytest.raises(ModulePanic, match="unwrap"):
            s.request(exchange("chrome", path, "GET"))
    assert s.describe()["mode"] == "panic"


async def test_degrade_scores_everyone_0_so_the_rule_blocks_real_users() -> None:
    s, registry = stage("degrade")
    assert registry.apply(Artifact("bot-features", 5, DOUBLED)) is ArtifactOutcome.MODULE_FAILED
    ex = exchange("chrome")
    s.request(ex)
    assert ex.notes["bot_score"] == 0 and ex.response is not None and ex.response.status == 403


async def test_reject_keeps_the_last_known_good_and_raises_the_alert() -> None:
    s, registry = stage("reject")
    assert registry.apply(Artifact("bot-features", 1, GOOD)) is ArtifactOutcome.APPLIED
    for n, bad in enumerate((DOUBLED, b"[{", mutate(GOOD, "oversize")), start=2):
        assert registry.apply(Artifact("bot-features", n, bad)) is ArtifactOutcome.REJECTED
    assert registry.applied["bot-features"] == 1
    text = metrics_of(s)
    assert metric_value(text, "edgelab_bot_alert") == 1
    ex = exchange("chrome")
    s.request(ex)
    assert ex.response is None and ex.notes["bot_score"] > 80
    assert registry.apply(Artifact("bot-features", 9, GOOD)) is ArtifactOutcome.APPLIED
    assert metric_value(metrics_of(s), "edgelab_bot_alert") == 0


async def test_fail_open_skips_the_module() -> None:
    s, registry = stage("fail-open")
    registry.apply(Artifact("bot-features", 3, DOUBLED))
    ex = exchange("python-requests")
    s.request(ex)
    assert ex.response is None and "bot_score" not in ex.notes
    assert [(v.action, v.detail) for v in ex.verdicts] == [("skip", "fail-open")]


async def test_killswitch_skips_the_module_whatever_its_state() -> None:
    s, registry = stage("panic")
    registry.apply(Artifact("bot-features", 3, DOUBLED))
    ks = registry.apply(Artifact("killswitches", 1, b'{"modules": {"bot": true, "waf": false}}'))
    assert ks is ArtifactOutcome.APPLIED
    ex = exchange()
    s.request(ex)
    assert [(v.action, v.detail) for v in ex.verdicts] == [("skip", "killswitch")]
    for bad in (b"nope", b'{"modules": {"bot": "yes"}}', b"[]"):
        assert registry.apply(Artifact("killswitches", 2, bad)) is ArtifactOutcome.REJECTED
    assert s.killed
    registry.apply(Artifact("killswitches", 3, b'{"modules": {}}'))
    with pytest.raises(ModulePanic):
        s.request(exchange())


async def test_reconfigure_to_reject_falls_back_to_the_last_good_file() -> None:
    s, registry = stage("panic")
    registry.apply(Artifact("bot-features", 1, GOOD))
    registry.apply(Artifact("bot-features", 2, DOUBLED))
    s.reconfigure(BotOptions(failure_policy=FailurePolicy.REJECT, rules=(RULE,)))
    ex = exchange("chrome")
    s.request(ex)
    assert ex.response is None and s.describe()["version"] == 1
    s.reconfigure(BotOptions(failure_policy=FailurePolicy.REJECT, feature_limit=100, rules=()))
    assert s.describe()["version"] == 1  # 127 features no longer fit: refused, v1 kept


def test_a_bad_local_feature_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "features.json"
    path.write_bytes(DOUBLED)
    with pytest.raises(ConfigError, match=f"{path}: 254 features exceed the limit of 200"):
        BotStage(BotOptions(features_file=path), ArtifactRegistry())
    with pytest.raises(ConfigError, match="cannot read bot feature file"):
        BotStage(BotOptions(features_file=tmp_path / "none.json"), ArtifactRegistry())


async def test_a_panic_can_cost_cpu_as_error_enrichment_did() -> None:
    registry = ArtifactRegistry()
    s = BotStage(BotOptions(panic_cpu_ms=30), registry)
    registry.apply(Artifact("bot-features", 1, DOUBLED))
    started = time.perf_counter()
    with pytest.raises(ModulePanic):
        s.request(exchange())
    assert time.perf_counter() - started >= 0.03  # a lower bound only


def test_the_stage_is_idle_exactly_while_the_module_is_off_in_config() -> None:
    stage = BotStage(BotOptions(enabled=False), ArtifactRegistry())
    assert stage.idle
    stage.reconfigure(BotOptions())
    assert not stage.idle
    stage.reconfigure(BotOptions(enabled=False))
    assert stage.idle
