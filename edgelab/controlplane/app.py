"""`edgelab control`: the config plane. Versioned artifacts, long-poll subscriptions, rollouts,
generators that flap, rollback and killswitches, all through one JSON API.

    server = ControlServer(state_dir=Path("state"), port=0)
    await server.start(); server.addresses["http"]       # http://127.0.0.1:41234
    await server.stop()

    curl -s -XPOST $CP/v1/artifacts/bot-features -d '{"mutation": "duplicate-rows"}'
    curl -s -XPOST $CP/v1/generators -d '{"name": "ff", "period_s": 5, "bad_probability": 0.5}'
    curl -s -XPOST $CP/v1/artifacts/bot-features/rollback -d '{}'

API (JSON in and out; errors are `{"error": "<one line>"}` with 400, 404 or 409; every call but
GET/HEAD needs `Authorization: Bearer <token>` when the server has a token, which it must have
to listen beyond loopback):

| call | what |
|---|---|
| `GET /v1/artifacts` | every kind with its latest version's metadata |
| `GET /v1/artifacts/{kind}` | history of a kind, oldest first (`?limit=N` for the newest N) |
| `POST /v1/artifacts/{kind}` | push: `{"content": "..."}` or `{"content_b64": ...}`, or a named bad mutation `{"mutation": "duplicate-rows" \\| "truncate" \\| "oversize" \\| "invalid-syntax", "base_version": N}`; plus `author`, `note`, `target` (`{}` all, `{"fraction": 0.5}`, `{"pops": ["ams"]}`) and `wait_s` (answer once every targeted POP reported). 201 with the version and its propagation |
| `GET /v1/artifacts/{kind}/{version}` | metadata, content (text and base64) and propagation; `version` may be `latest` |
| `GET /v1/artifacts/{kind}/{version}/content` | the raw bytes |
| `POST /v1/artifacts/{kind}/rollback` | `{"version": N}` (default: last known good) pushes that content again as a new version |
| `POST /v1/killswitch` | `{"modules": {"bot": true}, "rules": [...]}` merged into the latest `killswitches` and pushed |
| `GET /v1/generators`, `GET /v1/generators/{name}` | generators and their good/bad history |
| `POST /v1/generators` | start one: `{"name", "kind", "period_s", "bad_probability", "bad_probability_end", "ramp_s", "mutation", "seed", "base_version", "max_generations", "target"}` |
| `DELETE /v1/generators/{name}` | stop it (the artifacts it made stay) |
| `GET /v1/pops` | every POP: connected, the version it runs per kind, last outcome, lag; and what it should run |
| `GET /v1/poll?pop=NAME&since=kind:ver,kind:ver&timeout=S` | a POP's long-poll: answers at once with the kinds whose version for this POP differs from `since`, else waits up to `timeout` s for a push |
| `POST /v1/report` | a POP's `{"pop", "reports": [{"kind", "version", "outcome", "detail"}]}` |

Kinds: `bot-features`, `waf-rules`, `killswitches`, `edge-config` (`edgelab.edge.artifacts`).
Versions survive a restart (`--state-dir`); generators and POP reports do not: a restarted
control plane has no generator running, and learns what each POP runs from its next poll and
report. A push targets and waits for live POPs (polling, or seen in the last 10 s); an offline
POP catches up when it polls again.
Metrics: `edgelab_control_artifact_version{kind}`, `edgelab_control_pushes{kind,source}`,
`edgelab_control_pop_version{pop,kind}`, `edgelab_control_reports{kind,outcome}`,
`edgelab_control_propagation_lag_seconds{kind}` (histogram of push -> POP report),
`edgelab_control_pop_lag_seconds{pop,kind}`, `edgelab_control_pops_behind{kind}`,
`edgelab_control_pops_connected`, `edgelab_control_generations{generator,quality}`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError

from edgelab.config.load import describe_validation_error
from edgelab.controlplane.fleet import Fleet
from edgelab.controlplane.generators import Generation, GeneratorTask, Recipe
from edgelab.controlplane.model import (
    POP_NAME,
    GeneratorSpec,
    KillswitchRequest,
    PushRequest,
    ReportRequest,
    RollbackRequest,
    TargetSpec,
)
from edgelab.controlplane.mutations import MutationError, mutate
from edgelab.controlplane.rollout import ALL, Target
from edgelab.controlplane.store import ArtifactStore, ArtifactVersion, UnknownKind
from edgelab.edge.admin import token_guard
from edgelab.edge.artifacts import ARTIFACT_KINDS
from edgelab.errors import ConfigError
from edgelab.serving import (
    DEFAULT_HOST,
    bind_site,
    is_loopback,
    observability_routes,
    url,
)

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_POLL_S = 300.0
"""Longest long-poll a POP may ask for."""


class ApiError(Exception):
    """Answered as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return web.json_response({"error": str(e)}, status=e.status)
    except web.HTTPException as e:
        if e.status >= 400 and e.content_type != "application/json":
            return web.json_response({"error": e.reason}, status=e.status)
        raise


class ControlMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.version = Gauge(
            "edgelab_control_artifact_version",
            "Latest version per artifact kind",
            ["kind"],
            registry=registry,
        )
        self.pushes = Counter(
            "edgelab_control_pushes",
            "Versions created, by kind and source (api, mutation, generator, rollback, killswitch)",
            ["kind", "source"],
            registry=registry,
        )
        self.pop_version = Gauge(
            "edgelab_control_pop_version",
            "Version each POP reports running, per kind",
            ["pop", "kind"],
            registry=registry,
        )
        self.reports = Counter(
            "edgelab_control_reports",
            "POP reports by kind and outcome (applied, rejected, module_failed)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.lag = Histogram(
            "edgelab_control_propagation_lag_seconds",
            "Time from a push to a POP's report of that version",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        )
        self.pop_lag = Gauge(
            "edgelab_control_pop_lag_seconds",
            "Propagation lag of the last version each POP reported",
            ["pop", "kind"],
            registry=registry,
        )
        self.generations = Counter(
            "edgelab_control_generations",
            "Generator runs, by generator and quality (good, bad)",
            ["generator", "quality"],
            registry=registry,
        )


class ControlServer:
    """The control plane process: store, fleet, generators, and the JSON API."""

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        token: str | None = None,
    ) -> None:
        if token is None and not is_loopback(host):
            raise ConfigError(
                f"control --host {host}: the API is beyond loopback; set --token "
                "(or EDGELAB_CONTROL_TOKEN) so that state-changing calls need it"
            )
        self.host, self.port, self.token = host, port, token
        self.store = ArtifactStore(state_dir)
        self.fleet = Fleet()
        self.generators: dict[str, GeneratorTask] = {}
        self.registry = CollectorRegistry()
        self.metrics = ControlMetrics(self.registry)
        self._changed = asyncio.Event()
        """Set (and replaced) on every push: wakes the POPs' long-polls."""
        self._reported = asyncio.Event()
        """Set (and replaced) on every POP report: wakes pushes waiting for propagation."""
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._behind = Gauge(
            "edgelab_control_pops_behind",
            "Known POPs that have not yet processed the version they should run",
            ["kind"],
            registry=self.registry,
        )
        for kind in ARTIFACT_KINDS:
            latest = self.store.latest(kind)
            self.metrics.version.labels(kind).set(latest.version if latest else 0)
            self._behind.labels(kind).set_function(self._behind_count(kind))
        connected = Gauge(
            "edgelab_control_pops_connected",
            "POPs with a long-poll in flight",
            registry=self.registry,
        )
        connected.set_function(lambda: sum(1 for p in self.fleet.pops.values() if p.polling))
        self.app = self._build_app()

    def _behind_count(self, kind: str) -> Callable[[], float]:
        def behind() -> float:
            desired = {p: self._desired_version(kind, p) for p in self.fleet.pops}
            return self.fleet.behind(kind, desired)

        return behind

    @property
    def addresses(self) -> Mapping[str, str]:
        return {"http": url(self.host, self.port)}

    async def start(self) -> None:
        self._closing = False
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        try:
            self.port = await bind_site(self._runner, self.host, self.port, "control --port")
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # long-polls answer now instead of holding the shutdown
        for gen in list(self.generators.values()):
            await gen.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- core operations (also the Python API) ------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        self._notify_reported()

    def _notify_reported(self) -> None:
        self._reported.set()
        self._reported = asyncio.Event()

    def push(
        self,
        kind: str,
        content: bytes,
        *,
        author: str,
        source: str,
        note: str = "",
        target: Target = ALL,
        rollback_of: int | None = None,
        mutation: str | None = None,
    ) -> ArtifactVersion:
        """Store a new version and wake every subscriber; raises ApiError for an unknown kind."""
        try:
            v = self.store.push(
                kind,
                content,
                author=author,
                note=note,
                target=target,
                known_pops=self.fleet.live(),
                rollback_of=rollback_of,
                mutation=mutation,
            )
        except UnknownKind as e:
            raise _unknown_kind(kind) from e
        except OSError as e:
            raise ApiError(500, f"cannot write the state directory: {e.strerror}") from e
        self.metrics.version.labels(kind).set(v.version)
        self.metrics.pushes.labels(kind, source).inc()
        logger.info(
            "%s v%d pushed by %s to %s (%d bytes%s)",
            kind,
            v.version,
            author,
            target.describe(),
            len(content),
            f", mutation {mutation}" if mutation else "",
        )
        self._notify()
        return v

    def last_known_good(self, kind: str) -> ArtifactVersion | None:
        """The newest version before the latest that POPs applied without a failure report;
        failing that, the newest earlier one not made by a bad mutation."""
        history = self.store.history(kind)[:-1]
        fallback = None
        for v in reversed(history):
            reports = self.fleet.reports_for(kind, v.version)
            outcomes = {r.outcome for r in reports.values()}
            if "applied" in outcomes and outcomes == {"applied"}:
                return v
            if fallback is None and v.mutation is None and not outcomes - {"applied"}:
                fallback = v
        return fallback

    def _desired_version(self, kind: str, pop: str) -> int | None:
        v = self.store.desired(kind, pop)
        return v.version if v is not None else None

    async def wait_propagated(self, v: ArtifactVersion, timeout_s: float) -> dict[str, Any]:
        """Wait until every targeted known POP reported `v` (or newer), up to `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            event = self._reported
            status = self.fleet.propagation(v)
            remaining = deadline - loop.time()
            if status["complete"] or remaining <= 0 or self._closing:
                return status
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def start_generator(self, spec: GeneratorSpec) -> GeneratorTask:
        if spec.name in self.generators and self.generators[spec.name].running:
            raise ApiError(409, f"generator {spec.name!r} is already running")
        if spec.kind not in ARTIFACT_KINDS:
            raise _unknown_kind(spec.kind)
        base = self._base_content(spec.kind, spec.base_version)
        try:
            recipe = Recipe(spec, base)
        except MutationError as e:
            raise ApiError(400, f"generator {spec.name}: {e}") from e
        target = spec.target.target()

        def push(gen: Generation) -> int:
            quality = "bad" if gen.bad else "good"
            self.metrics.generations.labels(spec.name, quality).inc()
            v = self.push(
                spec.kind,
                gen.content,
                author=f"generator:{spec.name}",
                source="generator",
                note=f"{quality} generation" + (f" ({gen.mutation})" if gen.mutation else ""),
                target=target,
                mutation=gen.mutation,
            )
            return v.version

        task = GeneratorTask(recipe, push, asyncio.get_running_loop().time)
        self.generators[spec.name] = task
        task.start()
        return task

    def _base_content(self, kind: str, version: int | None) -> bytes:
        if version is not None:
            v = self.store.get(kind, version)
            if v is None:
                raise ApiError(404, f"{kind} has no version {version}")
            return v.content
        latest = self.store.latest(kind)
        if latest is not None:
            return latest.content
        if kind == "bot-features":
            from edgelab.edge.stages.bot import default_feature_file

            return default_feature_file()
        raise ApiError(409, f"{kind} has no version yet; push content first")

    # -- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[_errors, token_guard(self.token)], client_max_size=64 * 1024 * 1024
        )
        app.add_routes(observability_routes(self.registry, "control"))
        app.add_routes(
            [
                web.get("/v1/artifacts", self._h_kinds),
                web.get("/v1/artifacts/{kind}", self._h_history),
                web.post("/v1/artifacts/{kind}", self._h_push),
                web.post("/v1/artifacts/{kind}/rollback", self._h_rollback),
                web.get("/v1/artifacts/{kind}/{version}", self._h_version),
                web.get("/v1/artifacts/{kind}/{version}/content", self._h_content),
                web.post("/v1/killswitch", self._h_killswitch),
                web.get("/v1/generators", self._h_generators),
                web.post("/v1/generators", self._h_start_generator),
                web.get("/v1/generators/{name}", self._h_generator),
                web.delete("/v1/generators/{name}", self._h_stop_generator),
                web.get("/v1/pops", self._h_pops),
                web.get("/v1/poll", self._h_poll),
                web.post("/v1/report", self._h_report),
            ]
        )
        return app

    def _kind(self, request: web.Request) -> str:
        kind = request.match_info["kind"]
        if kind not in ARTIFACT_KINDS:
            raise _unknown_kind(kind)
        return kind

    def _version(self, kind: str, raw: str) -> ArtifactVersion:
        if raw == "latest":
            v = self.store.latest(kind)
            if v is None:
                raise ApiError(404, f"{kind} has no version yet")
            return v
        try:
            number = int(raw)
        except ValueError as e:
            raise ApiError(400, f"version must be a number or 'latest', got {raw!r}") from e
        v = self.store.get(kind, number)
        if v is None:
            raise ApiError(404, f"{kind} has no version {number}")
        return v

    async def _h_kinds(self, _: web.Request) -> web.Response:
        kinds = {}
        for kind in ARTIFACT_KINDS:
            latest = self.store.latest(kind)
            kinds[kind] = {
                "latest": latest.meta() if latest else None,
                "versions": len(self.store.history(kind)),
            }
        return web.json_response({"kinds": kinds})

    async def _h_history(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        history = self.store.history(kind)
        limit = request.query.get("limit")
        if limit is not None:
            try:
                n = int(limit)
            except ValueError as e:
                raise ApiError(400, f"limit must be a number, got {limit!r}") from e
            history = history[-n:] if n > 0 else []
        return web.json_response({"kind": kind, "versions": [v.meta() for v in history]})

    async def _h_version(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        v = self._version(kind, request.match_info["version"])
        try:
            text: str | None = v.content.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return web.json_response(
            {
                **v.meta(),
                "content": text,
                "content_b64": base64.b64encode(v.content).decode(),
                "propagation": self.fleet.propagation(v),
            }
        )

    async def _h_content(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        v = self._version(kind, request.match_info["version"])
        return web.Response(
            body=v.content,
            content_type="application/octet-stream",
            headers={"X-Edgelab-Version": str(v.version), "X-Edgelab-Checksum": v.checksum},
        )

    async def _pushed(self, v: ArtifactVersion, wait_s: float) -> web.Response:
        status = await self.wait_propagated(v, wait_s) if wait_s > 0 else self.fleet.propagation(v)
        return web.json_response({"version": v.meta(), "propagation": status}, status=201)

    async def _h_push(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        body = await _body(request, PushRequest)
        if body.content is not None:
            content: bytes | None = body.content.encode()
        elif body.content_b64 is not None:
            try:
                content = base64.b64decode(body.content_b64, validate=True)
            except (binascii.Error, ValueError) as e:
                raise ApiError(400, "body: content_b64: not valid base64") from e
        else:
            content = None
        if content is None and body.mutation is None:
            raise ApiError(400, "body: give content, content_b64 or a mutation")
        if content is None:
            content = self._base_content(kind, body.base_version)
        if body.mutation is not None:
            try:
                content = mutate(content, body.mutation)
            except MutationError as e:
                raise ApiError(400, f"body: mutation: {e}") from e
        v = self.push(
            kind,
            content,
            author=body.author,
            source="mutation" if body.mutation else "api",
            note=body.note,
            target=body.target.target(),
            mutation=body.mutation,
        )
        return await self._pushed(v, body.wait_s)

    async def _h_rollback(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        body = await _body(request, RollbackRequest)
        if body.version is not None:
            old = self._version(kind, str(body.version))
        else:
            found = self.last_known_good(kind)
            if found is None:
                raise ApiError(409, f"{kind}: no earlier known-good version; give one: {{version}}")
            old = found
        v = self.push(
            kind,
            old.content,
            author=body.author,
            source="rollback",
            note=body.note or f"rollback to v{old.version}",
            target=body.target.target(),
            rollback_of=old.version,
        )
        return await self._pushed(v, body.wait_s)

    async def _h_killswitch(self, request: web.Request) -> web.Response:
        body = await _body(request, KillswitchRequest)
        latest = self.store.latest("killswitches")
        doc: dict[str, Any] = {"modules": {}, "rules": []}
        if latest is not None:
            try:
                old = json.loads(latest.content)
                if isinstance(old, dict):
                    doc.update(old)
            except ValueError:
                logger.warning("killswitches v%d is not JSON; starting afresh", latest.version)
        doc["modules"] = {**(doc.get("modules") or {}), **body.modules}
        if body.rules is not None:
            doc["rules"] = list(body.rules)
        v = self.push(
            "killswitches",
            json.dumps(doc, sort_keys=True).encode(),
            author=body.author,
            source="killswitch",
            note=body.note,
            target=body.target.target(),
        )
        return await self._pushed(v, body.wait_s)

    async def _h_generators(self, _: web.Request) -> web.Response:
        return web.json_response(
            {"generators": [g.describe() for _, g in sorted(self.generators.items())]}
        )

    def _generator(self, request: web.Request) -> GeneratorTask:
        name = request.match_info["name"]
        gen = self.generators.get(name)
        if gen is None:
            raise ApiError(404, f"no generator {name!r}")
        return gen

    async def _h_generator(self, request: web.Request) -> web.Response:
        return web.json_response(self._generator(request).describe())

    async def _h_start_generator(self, request: web.Request) -> web.Response:
        spec = await _body(request, GeneratorSpec)
        task = self.start_generator(spec)
        return web.json_response(task.describe(), status=201)

    async def _h_stop_generator(self, request: web.Request) -> web.Response:
        gen = self._generator(request)
        await gen.stop()
        return web.json_response(gen.describe())

    async def _h_pops(self, _: web.Request) -> web.Response:
        now = time.time()
        pops = []
        for name in self.fleet.names():
            entry = self.fleet.pops[name].to_json(now)
            entry["desired"] = {
                kind: self._desired_version(kind, name)
                for kind in ARTIFACT_KINDS
                if self._desired_version(kind, name) is not None
            }
            pops.append(entry)
        return web.json_response({"pops": pops})

    async def _h_poll(self, request: web.Request) -> web.Response:
        q = request.query
        pop = q.get("pop", "")
        if not re.match(POP_NAME, pop):
            raise ApiError(400, "query: pop: a name of letters, digits, '.', '_' or '-'")
        since = _parse_since(q.get("since", ""))
        try:
            timeout = float(q.get("timeout", "30"))
        except ValueError as e:
            raise ApiError(400, "query: timeout: a number of seconds") from e
        timeout = min(max(timeout, 0.0), MAX_POLL_S)
        st = self.fleet.polled(pop, request.remote or "", since, time.time())
        st.polling += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                event = self._changed
                changed = []
                for kind in ARTIFACT_KINDS:
                    v = self.store.desired(kind, pop)
                    if v is not None and v.version != since.get(kind):
                        changed.append(v)
                remaining = deadline - loop.time()
                if changed or remaining <= 0 or self._closing:
                    break
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            st.polling -= 1
            st.last_seen = time.time()
        return web.json_response(
            {
                "pop": pop,
                "artifacts": [
                    {
                        "kind": v.kind,
                        "version": v.version,
                        "checksum": v.checksum,
                        "created_at": v.created_at,
                        "author": v.author,
                        "content_b64": base64.b64encode(v.content).decode(),
                    }
                    for v in changed
                ],
            }
        )

    async def _h_report(self, request: web.Request) -> web.Response:
        body = await _body(request, ReportRequest)
        now = time.time()
        for r in body.reports:
            if r.kind not in ARTIFACT_KINDS:
                raise _unknown_kind(r.kind)
        for r in body.reports:
            v = self.store.get(r.kind, r.version) if r.version > 0 else None
            rep = self.fleet.report(
                body.pop,
                r.kind,
                r.version,
                r.outcome,
                r.detail,
                v.created_at if v is not None else None,
                now,
            )
            self.metrics.reports.labels(r.kind, r.outcome).inc()
            if r.outcome != "rejected":
                self.metrics.pop_version.labels(body.pop, r.kind).set(r.version)
            if rep.lag_s is not None:
                self.metrics.lag.labels(r.kind).observe(rep.lag_s)
                self.metrics.pop_lag.labels(body.pop, r.kind).set(rep.lag_s)
        self._notify_reported()
        return web.json_response({"ok": True, "pop": body.pop, "reports": len(body.reports)})


def _unknown_kind(kind: str) -> ApiError:
    return ApiError(404, f"unknown artifact kind {kind!r} ({', '.join(ARTIFACT_KINDS)})")


def _parse_since(raw: str) -> dict[str, int]:
    since: dict[str, int] = {}
    for part in filter(None, raw.split(",")):
        kind, sep, number = part.rpartition(":")
        if not sep or kind not in ARTIFACT_KINDS:
            raise ApiError(400, f"query: since: expected kind:version pairs, got {part!r}")
        try:
            since[kind] = int(number)
        except ValueError as e:
            raise ApiError(400, f"query: since: version of {kind} must be a number") from e
    return since


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ApiError(400, f"body: invalid JSON: {e}") from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(400, describe_validation_error("body", e).replace("\n", "; ")) from e


__all__ = ["ApiError", "ControlServer", "TargetSpec"]
