"""The WAF stage: request -> `WafRequest` -> engine verdict -> 403 block page, a log line, or on.

    stage = WafStage(config.waf, artifacts)      # registers `waf-rules` and `killswitches`
    await stage.request(ex)      # ex.response = 403 page naming the rule and ray id, or untouched

Phase 1 (method, URI, headers) runs first; the body is read only if the request has one and the
ruleset has body-phase rules, and then only up to `inspect_body_bytes`: a longer body streams on
to the origin in full after its first bytes were inspected (what a CDN's body buffer does). The
headers-phase rules and a request without a body never pay for buffering. A body of
`worker_body_bytes` or more is inspected in a worker thread (`BODY_WORKER`), so the event loop
keeps serving other clients while RE2 scans it; the request itself waits for its verdict.

Pushed config, by failure policy (`waf.failure_policy`; see DESIGN.md):

| policy    | bad `waf-rules` document          | killswitch on an `execute` rule          | engine error |
|-----------|-----------------------------------|------------------------------------------|--------------|
| panic     | taken in: every request 500       | applied: every request 500 (2025-12-05)  | 500          |
| degrade   | runs the rules that validate      | applied, the group is skipped (the fix)  | 500          |
| reject    | refused, last known good kept     | refused (also unknown rule ids)          | 500          |
| fail-open | taken in: WAF skipped             | applied: WAF skipped on every request    | WAF skipped  |

`modules.waf: true` in the killswitches artifact switches the whole WAF off (2019-07-02's
"global terminate") under every policy. Nothing the client sends is consulted for any of this.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from edgelab.config.waf import WafOptions
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry
from edgelab.edge.errorpage import error_response
from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.edge.tally import CounterTally, HistogramTally
from edgelab.edge.upstream import replay
from edgelab.edge.worker import Worker
from edgelab.errors import ConfigError, RequestRejected
from edgelab.policy.failure import FailurePolicy, ModulePanic
from edgelab.policy.waf.engine import EngineOptions, Evaluation, WafEngine, shared_engine
from edgelab.policy.waf.killswitch import Killswitches, parse_killswitches
from edgelab.policy.waf.request import WafRequest
from edgelab.policy.waf.rules import (
    Ruleset,
    load_default_ruleset,
    load_ruleset,
    parse_ruleset,
    salvage_ruleset,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WafState:
    """Everything pushed config decides, swapped as one reference: a request sees old or new."""

    engine: WafEngine
    killswitches: Killswitches = Killswitches()
    rules_version: int = 0
    """Version of the `waf-rules` artifact in force (0: the rules file or the shipped set)."""
    broken: str | None = None
    """Why the module is failing (panic: every request 500; fail-open: skipped)."""


class WafMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Per-request series are tallies (plain numbers, same exposition): a prometheus_client
        # Counter takes a lock per `inc` and a Histogram walks its buckets in Python.
        self.rule_matches = CounterTally(
            "edgelab_waf_rule_matches",
            "Rule matches, by rule id and the rule's action (949110: anomaly threshold reached)",
            ["rule_id", "action"],
            registry,
        )
        self.requests = CounterTally(
            "edgelab_waf_requests",
            "Requests by WAF outcome: pass, block, log_block (would block), allow, off, "
            "killed, skipped_error",
            ["outcome"],
            registry,
        )
        self.artifacts = Counter(
            "edgelab_waf_artifacts",
            "Pushed WAF config (waf-rules, killswitches) by outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.seconds = HistogramTally(
            "edgelab_waf_eval_seconds",
            "Time spent evaluating rules per request (both phases, without body reading)",
            (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 1, 10),
            registry,
        )
        self.passed = self.requests.labels("pass")
        self.off = self.requests.labels("off")
        self.killed = self.requests.labels("killed")
        """The per-request outcomes' children, looked up once instead of on every request."""


class WafStage:
    name = "waf"
    config_section = "waf"
    """The edge-config section `reconfigure` can swap live (edgelab.edge.liveconfig)."""

    def __init__(
        self,
        options: WafOptions,
        artifacts: ArtifactRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Raises ConfigError if `options.rules_file` is not a valid ruleset."""
        self.options = options
        self.clock = clock
        self.metrics = WafMetrics(CollectorRegistry())
        ruleset = (
            load_ruleset(options.rules_file)
            if options.rules_file is not None
            else load_default_ruleset()
        )
        try:
            engine = shared_engine(ruleset, self.engine_options)
            if options.exclusions:
                engine = engine.with_exclusions(options.exclusions)
        except ValueError as e:
            raise ConfigError(f"{options.rules_file}: {e}") from e
        self.state = WafState(engine)
        artifacts.register("waf-rules", self.apply_rules)
        artifacts.register("killswitches", self.apply_killswitches)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count into the edge's registry from now on (called once by the EdgeServer)."""
        self.metrics = WafMetrics(registry)

    def reconfigure(self, options: WafOptions) -> None:
        """A pushed `edge-config` changed the `waf` section: recompile the rules in force for
        the new engine and paranoia level (a pushed ruleset and killswitches stay); a new
        `rules_file` is read now. Raises ConfigError or ValueError, leaving the old in force."""
        old = self.state
        ruleset = old.engine.ruleset
        if options.rules_file is not None and options.rules_file != self.options.rules_file:
            ruleset = load_ruleset(options.rules_file)
        previous, self.options = self.options, options
        try:
            engine = WafEngine(
                ruleset, self.engine_options, old.killswitches.rules, exclusions=options.exclusions
            )
        except ValueError:
            self.options = previous
            raise
        self.state = replace(old, engine=engine)

    @property
    def engine_options(self) -> EngineOptions:
        o = self.options
        return EngineOptions(
            paranoia_level=o.paranoia_level,
            regex_engine=o.regex_engine,
            anomaly_threshold=o.anomaly_threshold,
            killed_execute="skip" if o.failure_policy is FailurePolicy.DEGRADE else "raise",
        )

    # -- the request path -------------------------------------------------------------------

    def request(self, ex: Exchange) -> Awaitable[None] | None:
        """A plain method: it waits (returns a coroutine) only to read a body it inspects, so
        a GET costs no coroutine, and nothing but a count while the WAF is off."""
        state = self.state  # one read: a swap mid-request does not mix two configs
        if self.options.mode == "off" or state.killswitches.waf_killed:
            (self.metrics.off if self.options.mode == "off" else self.metrics.killed).inc()
            return None
        if ex.request.has_body and self.options.inspect_body_bytes > 0:
            return self._request_with_body(ex, state)
        try:
            engine, wreq, progress, final, now, started = self._headers_phase(ex, state)
            if not final and "body" in engine.phases:
                engine.run(wreq, "body", now, progress)  # (rules on an empty body)
            self.metrics.seconds.observe(time.perf_counter() - started)
        except Exception as e:
            self._inspection_failed(ex, e)
            return None
        self._apply(ex, progress)
        return None

    def response(self, ex: Exchange) -> None:
        return None

    async def _request_with_body(self, ex: Exchange, state: WafState) -> None:
        try:
            engine, wreq, progress, final, now, started = self._headers_phase(ex, state)
            spent = time.perf_counter() - started
            if not final and "body" in engine.phases:
                body, truncated = await buffer_body(ex.request, self.options.inspect_body_bytes)
                wreq.set_body(body, truncated)
                threshold = self.options.worker_body_bytes
                if threshold and len(body) >= threshold:
                    # The event loop serves other clients meanwhile (issue 5: 64 KiB of attack
                    # fragments held it for ~100 ms); this request waits for its verdict.
                    spent += await BODY_WORKER.run(_body_phase, engine, wreq, now, progress)
                else:
                    spent += _body_phase(engine, wreq, now, progress)
            self.metrics.seconds.observe(spent)
        except Exception as e:
            self._inspection_failed(ex, e)
            return
        self._apply(ex, progress)

    def _headers_phase(
        self, ex: Exchange, state: WafState
    ) -> tuple[WafEngine, WafRequest, Evaluation, bool, float, float]:
        """Run the header-phase rules: (engine, the request as the WAF sees it, the evaluation
        so far, whether it is final, the rules' clock, perf_counter at the start). Raises
        ModulePanic on a broken ruleset."""
        if state.broken is not None:
            raise ModulePanic(f"waf: {state.broken}")
        engine = state.engine
        req = ex.request
        wreq = WafRequest(  # (not `build`: it would copy the list again)
            req.method, req.path, req.query_string, list(req.headers.items()), req.client_ip
        )
        now = self.clock()
        started = time.perf_counter()
        progress = engine.start()  # read as it is: a WafVerdict per request cost ~4 us compiled
        if not req.has_body:
            engine.scan_bodiless(wreq)
        final = engine.run(wreq, "headers", now, progress)
        return engine, wreq, progress, final, now, started

    def _inspection_failed(self, ex: Exchange, e: Exception) -> None:
        """The inspection raised: a client's bad body and (unless fail-open) our failures go on
        to the pipeline (a 4xx, or 500 as on 2025-12-05); fail-open passes the request."""
        if isinstance(e, RequestRejected) or self.options.failure_policy is not (
            FailurePolicy.FAIL_OPEN
        ):
            raise e
        logger.warning(
            "waf skipped (fail-open): %r", e, extra={"request_id": ex.ray_id, "stage": self.name}
        )
        self.metrics.requests.labels("skipped_error").inc()
        ex.verdict(self.name, "skipped", type(e).__name__)

    def _apply(self, ex: Exchange, verdict: Evaluation) -> None:
        for m in verdict.matches:
            self.metrics.rule_matches.labels(str(m.rule_id), m.action).inc()
        ex.notes["waf_score"] = verdict.score
        if verdict.allowed:
            self.metrics.requests.labels("allow").inc()
            ex.verdict(self.name, "allow", str(verdict.matches[-1].rule_id))
            return
        if verdict.blocked_by is None:
            self.metrics.passed.inc()
            if not verdict.matches or not logger.isEnabledFor(logging.DEBUG):
                return
            for m in verdict.matches:
                logger.debug(
                    "waf match rule %s (%s) %s=%r",
                    m.rule_id,
                    m.action,
                    m.target,
                    m.value,
                    extra={"request_id": ex.ray_id, "stage": self.name, "rule_id": m.rule_id},
                )
            return
        rule_id = verdict.blocked_by
        self.metrics.rule_matches.labels(str(rule_id), "block").inc()
        evidence = ", ".join(f"{m.rule_id} {m.target}={m.value!r}" for m in verdict.matches)
        blocking = self.options.mode == "block"
        logger.info(
            "waf %s rule %s score %d: %s",
            "block" if blocking else "would block (log mode)",
            rule_id,
            verdict.score,
            evidence,
            extra={"request_id": ex.ray_id, "stage": self.name, "rule_id": rule_id},
        )
        ex.notes["waf_rule"] = rule_id
        if not blocking:
            self.metrics.requests.labels("log_block").inc()
            ex.verdict(self.name, "log", str(rule_id))
            return
        self.metrics.requests.labels("block").inc()
        ex.verdict(self.name, "block", str(rule_id))
        ex.response = error_response(
            403, f"This request was blocked by the web application firewall, rule {rule_id}.", ex
        )

    # -- pushed config ----------------------------------------------------------------------

    def apply_rules(self, artifact: Artifact) -> ArtifactOutcome:
        """`waf-rules`: a whole ruleset document (TOML or JSON), compiled before the swap."""
        source = f"waf-rules v{artifact.version}"
        try:
            ruleset = parse_ruleset(artifact.content, source)
            engine = self._engine(ruleset)
            if self.options.failure_policy is FailurePolicy.REJECT:
                _check_killed(ruleset, self.state.killswitches.rules)
        except (ConfigError, ValueError) as e:
            return self._bad_rules(artifact, str(e))
        self.state = WafState(engine, self.state.killswitches, artifact.version)
        return self._outcome(artifact, ArtifactOutcome.APPLIED, f"{len(ruleset.ids())} rules")

    def _engine(self, ruleset: Ruleset) -> WafEngine:
        """`ruleset` compiled with the killswitches and the config's exclusions in force."""
        return WafEngine(
            ruleset,
            self.engine_options,
            self.state.killswitches.rules,
            exclusions=self.options.exclusions,
        )

    def _bad_rules(self, artifact: Artifact, why: str) -> ArtifactOutcome:
        policy = self.options.failure_policy
        if policy is FailurePolicy.REJECT:
            return self._outcome(artifact, ArtifactOutcome.REJECTED, why)
        if policy is FailurePolicy.DEGRADE:
            ruleset, problems = salvage_ruleset(artifact.content, f"waf-rules v{artifact.version}")
            try:
                engine = self._engine(ruleset)
            except ValueError as e:  # a pattern RE2 or re refused: run without any rule
                problems.append(str(e))
                empty = salvage_ruleset(b"{}", "")[0]
                engine = WafEngine(empty, self.engine_options)
            self.state = WafState(engine, self.state.killswitches, artifact.version)
            detail = f"degraded to {len(list(ruleset.all_rules()))} rules: " + "; ".join(problems)
            return self._outcome(artifact, ArtifactOutcome.MODULE_FAILED, detail)
        self.state = replace(self.state, rules_version=artifact.version, broken=why)
        return self._outcome(artifact, ArtifactOutcome.MODULE_FAILED, why)

    def apply_killswitches(self, artifact: Artifact) -> ArtifactOutcome:
        """`killswitches`: `{"modules": {"waf": bool}, "rules": [ids]}` (shared with bot)."""
        policy = self.options.failure_policy
        try:
            ks = parse_killswitches(artifact.content)
            if policy is FailurePolicy.REJECT:
                _check_killed(self.state.engine.ruleset, ks.rules)
        except ValueError as e:
            if policy is FailurePolicy.REJECT or policy is FailurePolicy.DEGRADE:
                return self._outcome(artifact, ArtifactOutcome.REJECTED, str(e))
            self.state = replace(self.state, broken=str(e))
            return self._outcome(artifact, ArtifactOutcome.MODULE_FAILED, str(e))
        engine = self.state.engine.with_killed(ks.rules)
        self.state = replace(self.state, engine=engine, killswitches=ks)
        hits = _killed_execute_rules(engine.ruleset, ks.rules)
        if hits and policy is not FailurePolicy.DEGRADE:
            why = f"killswitch on execute rule(s) {sorted(hits)}: every request will fail"
            return self._outcome(artifact, ArtifactOutcome.MODULE_FAILED, why)
        return self._outcome(artifact, ArtifactOutcome.APPLIED, f"rules off: {sorted(ks.rules)}")

    def _outcome(
        self, artifact: Artifact, outcome: ArtifactOutcome, detail: str
    ) -> ArtifactOutcome:
        self.metrics.artifacts.labels(artifact.kind, str(outcome)).inc()
        log = logger.info if outcome is ArtifactOutcome.APPLIED else logger.warning
        log(
            "waf %s v%d %s: %s",
            artifact.kind,
            artifact.version,
            outcome,
            detail,
            extra={"stage": self.name},
        )
        return outcome

    # -- admin ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        st, o = self.state, self.options
        return {
            "mode": o.mode,
            "paranoia_level": o.paranoia_level,
            "regex_engine": o.regex_engine,
            "failure_policy": str(o.failure_policy),
            "inspect_body_bytes": o.inspect_body_bytes,
            "worker_body_bytes": o.worker_body_bytes,
            "ruleset": st.engine.ruleset.ruleset.name,
            "rules_version": st.rules_version,
            "rules": len(st.engine.ruleset.ids()),
            "killed_rules": sorted(st.killswitches.rules),
            "exclusions": len(o.exclusions) + len(st.engine.ruleset.exclusions),
            "waf_killed": st.killswitches.waf_killed,
            "broken": st.broken,
        }

    def admin_routes(self) -> list[web.RouteDef]:
        async def status(_: web.Request) -> web.Response:
            return web.json_response(self.status())

        return [web.get("/waf/status", status)]


def _killed_execute_rules(ruleset: Ruleset, killed: frozenset[int]) -> set[int]:
    return {r.id for r in ruleset.rules if r.action == "execute" and r.id in killed}


def _check_killed(ruleset: Ruleset, killed: frozenset[int]) -> None:
    """`reject`'s validation: no killswitch on an `execute` rule, none on an unknown id."""
    hits = _killed_execute_rules(ruleset, killed)
    if hits:
        raise ValueError(f"killswitch on execute rule(s) {sorted(hits)} refused")
    unknown = killed - ruleset.ids()
    if unknown:
        raise ValueError(f"killswitch names unknown rule id(s) {sorted(unknown)}")


BODY_WORKER: Final = Worker("waf-body")
"""The thread that runs the body-phase rules of bodies of `worker_body_bytes` or more, for every
WAF stage of the process. One: large bodies are inspected one at a time, beside the event loop,
so a flood of them takes at most this thread's core (a queued one whose client went away is
skipped). The engine shares only caches between requests (each a pure function of its key,
read and written a whole entry at a time), and RE2 is thread-safe."""


def _body_phase(engine: WafEngine, wreq: WafRequest, now: float, progress: Evaluation) -> float:
    """Run the body-phase rules into `progress`: the seconds it took (thread CPU and wall alike:
    it is not waiting on anything)."""
    started = time.perf_counter()
    engine.run(wreq, "body", now, progress)
    return time.perf_counter() - started


async def buffer_body(req: ClientRequest, limit: int) -> tuple[bytes, bool]:
    """Read the body up to `limit` bytes for inspection; returns (bytes, truncated).

    A body of declared length that fits is kept whole in `req.body` (the origin stage forwards
    it); a longer or chunked one keeps streaming: `req.body_stream` becomes the bytes read so far
    followed by the unread rest.
    """
    if req.body is not None:
        return req.body[:limit], len(req.body) > limit
    stream = req.body_stream
    if stream is None:
        return b"", False
    buf = bytearray()
    while len(buf) <= limit:
        chunk: bytes = await stream.read(limit + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    head = bytes(buf)
    if len(head) <= limit and req.content_length is not None:
        req.body = head
        return head, False
    # Over the limit, or sent chunked: the origin gets it streamed, framing as the client sent.
    req.body_stream = replay(head, stream)
    return head[:limit], len(head) > limit
