"""The POP side of config propagation: long-poll the control plane, apply, report back.

    sub = Subscriber(config.control, pop="ams", artifacts=edge.artifacts, registry=edge.registry)
    await sub.start()      # started by EdgeServer.start() when the config has a `control` section
    sub.connected          # False while the control plane is unreachable: the POP keeps serving
    await sub.stop()

One loop: `GET /v1/poll?pop=ams&since=bot-features:3,killswitches:1&timeout=30` answers with
the artifacts whose version for this POP differs from what it has processed; each one's checksum
is checked, it goes through `ArtifactRegistry.apply` (an applier swaps one reference, so a
request sees the old set or the new one, never half), and the outcomes go back in one
`POST /v1/report`. Within one answer, `edge-config` is applied first, then `killswitches`, then
the data (`waf-rules`, `bot-features`), so a policy change governs the file that comes with it.

When the control plane is down, polls fail and are retried with a doubling wait (`retry_s` up to
`retry_max_s`); nothing already applied is dropped, so the POP serves with its last known
artifacts. Reports that could not be sent go with the next successful one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edgelab.config.control import ControlOptions
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry

logger = logging.getLogger(__name__)

APPLY_ORDER = ("edge-config", "killswitches", "waf-rules", "bot-features")


class ArtifactVersions(Collector):
    """`edgelab_edge_artifact_version{kind}`: the version this POP runs, read at scrape time."""

    def __init__(self, artifacts: ArtifactRegistry) -> None:
        self.artifacts = artifacts

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "edgelab_edge_artifact_version",
            "Version of each pushed artifact kind this POP runs (0 = its local file)",
            labels=["kind"],
        )
        for kind, version in sorted(self.artifacts.applied.items()):
            family.add_metric([kind], version)
        yield family


class Subscriber:
    def __init__(
        self,
        options: ControlOptions,
        pop: str,
        artifacts: ArtifactRegistry,
        registry: CollectorRegistry,
    ) -> None:
        self.options = options
        self.pop = options.pop or pop
        self.artifacts = artifacts
        self.seen: dict[str, int] = dict(artifacts.applied)
        """Kind -> the newest version this POP has processed (applied, failing or refused)."""
        self.connected = False
        self.last_error = ""
        self._unreported: list[dict[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = Gauge(
            "edgelab_edge_control_connected",
            "1 while the last poll of the control plane succeeded",
            registry=registry,
        )
        self._polls = Counter(
            "edgelab_edge_control_polls",
            "Long-polls by result (changes, empty, error)",
            ["result"],
            registry=registry,
        )
        self._outcomes = Counter(
            "edgelab_edge_artifact_outcomes",
            "Pushed artifacts received, by kind and outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self._headers = {"Authorization": f"Bearer {options.token}"} if options.token else {}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(headers=self._headers)
        self._task = asyncio.create_task(self._run(), name=f"subscriber {self.pop}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.options.url,
            "pop": self.pop,
            "connected": self.connected,
            "last_error": self.last_error,
            "seen": dict(self.seen),
        }

    async def _run(self) -> None:
        wait = self.options.retry_s
        while True:
            try:
                artifacts = await self._poll()
            except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                self._down(e)
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.options.retry_max_s)
                continue
            wait = self.options.retry_s
            if not self.connected:
                logger.info("control plane %s reachable", self.options.url)
            self.connected = True
            self._connected.set(1)
            self._polls.labels("changes" if artifacts else "empty").inc()
            for item in sorted(artifacts, key=lambda a: _order(a.get("kind", ""))):
                self._unreported.append(self._apply(item))
            if self._unreported:
                try:
                    await self._report()
                except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                    self._down(e)

    def _down(self, e: BaseException) -> None:
        self._polls.labels("error").inc()
        reason = str(e) or type(e).__name__
        if self.connected or not self.last_error:
            logger.warning(
                "control plane %s unreachable (%s); serving with what this POP has",
                self.options.url,
                reason,
            )
        self.connected = False
        self.last_error = reason
        self._connected.set(0)

    async def _poll(self) -> list[dict[str, Any]]:
        assert self._session is not None
        opts = self.options
        since = ",".join(f"{k}:{v}" for k, v in sorted(self.seen.items()))
        timeout = aiohttp.ClientTimeout(total=opts.poll_timeout_s + 10, connect=5)
        async with self._session.get(
            f"{opts.url}/v1/poll",
            params={"pop": self.pop, "since": since, "timeout": str(opts.poll_timeout_s)},
            timeout=timeout,
        ) as resp:
            if resp.status != 200:
                raise ValueError(f"poll answered {resp.status}: {(await resp.text())[:200]}")
            body = await resp.json()
        artifacts = body.get("artifacts") if isinstance(body, dict) else None
        if not isinstance(artifacts, list):
            raise ValueError("poll answer has no artifacts list")
        return artifacts

    def _apply(self, item: dict[str, Any]) -> dict[str, Any]:
        kind, version = str(item.get("kind", "")), int(item.get("version", 0))
        checksum = str(item.get("checksum", ""))
        detail = ""
        try:
            content = base64.b64decode(str(item.get("content_b64", "")), validate=True)
        except (binascii.Error, ValueError):
            content, detail = b"", "content is not valid base64"
        if not detail and Artifact.checksum_of(content) != checksum:
            detail = "checksum mismatch"
        if detail:
            outcome = ArtifactOutcome.REJECTED
            logger.error("%s v%d refused: %s", kind, version, detail)
        else:
            outcome = self.artifacts.apply(Artifact(kind, version, content, checksum))
            if outcome is not ArtifactOutcome.APPLIED:
                detail = f"{kind} v{version} {outcome}"
        self.seen[kind] = version
        self._outcomes.labels(kind, str(outcome)).inc()
        return {"kind": kind, "version": version, "outcome": str(outcome), "detail": detail}

    async def _report(self) -> None:
        assert self._session is not None
        batch, self._unreported = self._unreported, []
        try:
            async with self._session.post(
                f"{self.options.url}/v1/report",
                json={"pop": self.pop, "reports": batch},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                if resp.status != 200:
                    raise ValueError(f"report answered {resp.status}: {(await resp.text())[:200]}")
        except BaseException:
            self._unreported = batch + self._unreported
            raise


def _order(kind: str) -> int:
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)
