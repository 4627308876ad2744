"""Bot management on the edge: score every request 1-99, let score rules act, obey the policy.

    stage = BotStage(config.bot, artifacts)      # registers `bot-features` and `killswitches`
    stage.request(ex)                            # ex.notes["bot_score"]; 403 if a rule blocks

The stage is the thin shell around `edgelab.policy.bot`: it turns the Exchange into
`RequestSignals` (with the client's rate from a clock it is given), asks the scoring model for a
score, passes the score to the origin in `X-Edgelab-Bot-Score`, and applies the first matching
score rule. Its state is one reference (`BotState`), swapped whole when a feature file or a
killswitch arrives, so a request sees the old features or the new ones, never half.

What a bad feature file (over the preallocated limit, or unreadable) does depends on
`bot.failure_policy` (DESIGN.md, ../shared/incidents.md #1):

- `panic`: the file is taken in; every request unwraps the failed load and raises
  `ModulePanic`, so every request through the module gets 500 (FL2 on 2025-11-18).
- `degrade`: the module runs without features and scores every request 0; a rule such as
  "block score < 30 on /login" then blocks every real user (the old FL proxy).
- `reject`: ingestion validates (syntax, limit, duplicate rows), refuses the file, keeps the last
  known good and sets `edgelab_bot_alert` to 1 (the hardened fix).
- `fail-open`: the module is skipped while its file is bad; traffic passes unscored.

A killswitch artifact (`{"modules": {"bot": true}}`) skips the module whatever its state.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from edgelab.config.bot import BotOptions
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry
from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import Exchange
from edgelab.edge.tally import CounterTally, HistogramTally
from edgelab.errors import ConfigError
from edgelab.policy.bot.features import (
    FeatureFileError,
    FeatureTable,
    LoadResult,
    parse_feature_file,
    validate,
)
from edgelab.policy.bot.ratelimit import ClientRates
from edgelab.policy.bot.rules import first_match
from edgelab.policy.bot.scoring import ScoringModel
from edgelab.policy.bot.signals import client_key
from edgelab.policy.failure import FailurePolicy

logger = logging.getLogger(__name__)

MODES = ("ok", "panic", "degraded", "fail-open")


def default_feature_file() -> bytes:
    """The feature file shipped with edgelab (127 features; doubled, it is over 200)."""
    return resources.files("edgelab.policy.bot").joinpath("features/default.json").read_bytes()


@dataclass(frozen=True)
class BotState:
    """What the module runs with; replaced whole, never mutated."""

    mode: str
    """`ok`, `panic` (load failed, requests unwrap it), `degraded` (scores 0), `fail-open`."""
    model: ScoringModel
    load: LoadResult
    version: int
    reason: str = ""


class BotMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Bumped on every request: plain-number tallies (edgelab.edge.tally), no lock each.
        self.verdicts = CounterTally(
            "edgelab_bot_verdicts",
            "Requests through the bot module by verdict (allow, block, log, skip, panic) and rule",
            ["verdict", "rule"],
            registry=registry,
        )
        self.allowed = self.verdicts.labels("allow", "")
        """Pre-bound: the common case should not look its labels up per request."""
        self.score = HistogramTally(
            "edgelab_bot_score",
            "Bot scores given (0 = not scored: the module runs without features)",
            buckets=(1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99),
            registry=registry,
        )
        self.loads = Counter(
            "edgelab_bot_feature_loads",
            "Feature files received, by outcome (applied, rejected, module_failed)",
            ["outcome"],
            registry=registry,
        )
        self.alert = Gauge(
            "edgelab_bot_alert",
            "1 while the latest feature file was refused and the last known good is in force",
            registry=registry,
        )
        self.features = Gauge(
            "edgelab_bot_features", "Features loaded in the scoring model", registry=registry
        )
        self.mode = Gauge(
            "edgelab_bot_module_state",
            "1 for the module's current state (ok, panic, degraded, fail-open, killed)",
            ["state"],
            registry=registry,
        )


class BotStage:
    name = "bot"
    config_section = "bot"
    """The edge-config section `reconfigure` can swap live (edgelab.edge.liveconfig)."""

    def __init__(
        self,
        options: BotOptions,
        artifacts: ArtifactRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.idle = not options.enabled
        """The module is off in config: the pipeline passes this stage over."""
        self.clock = clock
        self.rates = ClientRates(options.rate_window_s, options.max_clients)
        self.killed = False
        self.alert = False
        """True while the latest feature file was refused (reject policy)."""
        self.metrics = BotMetrics(CollectorRegistry())
        content = _read_features(options)
        self._last = Artifact("bot-features", 0, content, Artifact.checksum_of(content))
        self._good = self._last
        self.state = self._ingest_local(content)
        artifacts.register("bot-features", self.apply_features)
        artifacts.register("killswitches", self.apply_killswitches)
        artifacts.apply(self._last)

    # -- metrics and admin -------------------------------------------------------------------

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count into the edge's registry from now on (called once by the EdgeServer)."""
        self.metrics = BotMetrics(registry)
        self._publish_state()

    def admin_routes(self) -> list[web.RouteDef]:
        async def state(_: web.Request) -> web.Response:
            return web.json_response(self.describe())

        return [web.get("/bot/state", state)]

    def describe(self) -> dict[str, object]:
        st = self.state
        return {
            "mode": "killed" if self.killed else st.mode,
            "version": st.version,
            "features": st.model.count,
            "feature_limit": self.options.feature_limit,
            "failure_policy": str(self.options.failure_policy),
            "reason": st.reason,
            "killed": self.killed,
            "alert": self.alert,
            "rules": [r.model_dump(mode="json") for r in self.options.rules],
        }

    def _publish_state(self) -> None:
        current = "killed" if self.killed else self.state.mode
        for m in (*MODES, "killed"):
            self.metrics.mode.labels(m).set(1 if m == current else 0)
        self.metrics.features.set(self.state.model.count)
        self.metrics.alert.set(1 if self.alert else 0)

    # -- request path ------------------------------------------------------------------------

    def request(self, ex: Exchange) -> None:
        """Score and apply the rules; a plain method (it never waits), so the pipeline calls it
        without a coroutine per request."""
        opts = self.options
        if not opts.enabled:
            return
        st = self.state
        if self.killed or st.mode == "fail-open":
            why = "killswitch" if self.killed else "fail-open"
            ex.verdict("bot", "skip", why)
            self.metrics.verdicts.labels("skip", why).inc()
            return
        if opts.failure_policy is FailurePolicy.PANIC:
            # FL2: the module unwraps its feature-load result on every request; a failed load
            # panics here, and the pipeline answers 500.
            try:
                st.load.unwrap()
            except Exception:
                self.metrics.verdicts.labels("panic", "").inc()
                if opts.panic_cpu_ms:
                    _burn_cpu(opts.panic_cpu_ms)
                raise
        req = ex.request
        headers = req.headers
        credential = headers.get("Cookie") or headers.get("Authorization") or ""
        key = client_key(req.client_ip, headers.get("User-Agent", ""), credential)
        rate = self.rates.hit(key, self.clock())
        score = st.model.score_request(req.method, req.path, headers, rate)
        ex.notes["bot_score"] = score
        self.metrics.score.observe(score)
        if opts.score_header:
            ex.set_upstream_header(opts.score_header, str(score))
        rule = first_match(opts.rules, req.method, req.path, score) if opts.rules else None
        if rule is None:
            self.metrics.allowed.inc()
            return
        ex.verdict("bot", rule.action, f"{rule.id} score={score}")
        self.metrics.verdicts.labels(rule.action, rule.id).inc()
        if rule.action == "block":
            ex.response = error_response(403, f"blocked by bot rule {rule.id}", ex)

    def response(self, ex: Exchange) -> None:
        return None

    # -- pushed config -----------------------------------------------------------------------

    def apply_features(self, artifact: Artifact) -> ArtifactOutcome:
        """Take in a `bot-features` artifact under the failure policy; see the module docstring."""
        outcome = self._ingest(artifact)
        self.metrics.loads.labels(str(outcome)).inc()
        self._publish_state()
        return outcome

    def _ingest(self, artifact: Artifact) -> ArtifactOutcome:
        opts = self.options
        try:
            rows = parse_feature_file(artifact.content)
            error = ""
        except FeatureFileError as e:
            rows, error = [], str(e)
        if opts.failure_policy is FailurePolicy.REJECT:
            problems = [error] if error else validate(rows, opts.feature_limit)
            if problems:
                logger.warning(
                    "bot-features v%d rejected, keeping v%d: %s",
                    artifact.version,
                    self.state.version,
                    "; ".join(problems),
                )
                self.alert = True
                return ArtifactOutcome.REJECTED
        load = LoadResult(None, error) if error else FeatureTable(opts.feature_limit).load(rows)
        self._last = artifact
        if load.table is not None:
            self.state = BotState("ok", ScoringModel(load.table.features), load, artifact.version)
            self._good = artifact
            self.alert = False
            logger.log(
                logging.INFO if artifact.version else logging.DEBUG,  # v0: the local file
                "bot-features v%d applied: %d features",
                artifact.version,
                len(rows),
            )
            return ArtifactOutcome.APPLIED
        mode = {
            FailurePolicy.PANIC: "panic",
            FailurePolicy.DEGRADE: "degraded",
            FailurePolicy.FAIL_OPEN: "fail-open",
        }[opts.failure_policy]
        self.state = BotState(mode, ScoringModel(None), load, artifact.version, load.error)
        logger.error(
            "bot-features v%d is bad (%s); bot module now %s", artifact.version, load.error, mode
        )
        return ArtifactOutcome.MODULE_FAILED

    def _ingest_local(self, content: bytes) -> BotState:
        """The start-up file must be good whatever the policy: a bad one is a user mistake."""
        source = str(self.options.features_file or "the shipped bot feature file")
        try:
            rows = parse_feature_file(content)
        except FeatureFileError as e:
            raise ConfigError(f"{source}: {e}") from e
        problems = validate(rows, self.options.feature_limit)
        if problems:
            raise ConfigError(f"{source}: {'; '.join(problems)}")
        load = FeatureTable(self.options.feature_limit).load(rows)
        assert load.table is not None
        return BotState("ok", ScoringModel(load.table.features), load, 0)

    def apply_killswitches(self, artifact: Artifact) -> ArtifactOutcome:
        """`{"modules": {"bot": true}}` kills (skips) the module; false or absent restores it."""
        try:
            doc = json.loads(artifact.content)
            modules = doc.get("modules", {}) if isinstance(doc, dict) else None
            if not isinstance(modules, dict) or not isinstance(modules.get("bot", False), bool):
                raise ValueError("expected {'modules': {'bot': true|false}}")
        except ValueError as e:
            logger.warning("killswitches v%d refused by the bot module: %s", artifact.version, e)
            return ArtifactOutcome.REJECTED
        self.killed = bool(modules.get("bot", False))
        self._publish_state()
        return ArtifactOutcome.APPLIED

    def reconfigure(self, options: BotOptions) -> None:
        """Swap the `bot` section live: rules and score header at once; a new policy or limit
        re-ingests the feature file in force under the new rules. `features_file` is read at
        start only: at runtime features come as `bot-features` artifacts."""
        old = self.options
        self.options = options
        self.idle = not options.enabled
        if (old.rate_window_s, old.max_clients) != (options.rate_window_s, options.max_clients):
            self.rates = ClientRates(options.rate_window_s, options.max_clients)
        if (old.failure_policy, old.feature_limit) != (
            options.failure_policy,
            options.feature_limit,
        ):
            if self.apply_features(self._last) is ArtifactOutcome.REJECTED:
                self.apply_features(self._good)


def _burn_cpu(ms: float) -> None:
    """Hold the CPU (and so this POP's event loop) for `ms`, as error enrichment does."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _read_features(options: BotOptions) -> bytes:
    if options.features_file is None:
        return default_feature_file()
    path = Path(options.features_file)
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read bot feature file: {e.strerror}") from e
