"""The cache stage over Exchanges, with a canned inner stage instead of an origin (no sockets)."""

from __future__ import annotations

from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from edgelab.config.cache import CacheConfig
from edgelab.edge.cache import EdgeCache
from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.pipeline import Pipeline
from edgelab.edge.stages.cache import CacheStage


class CannedOrigin:
    """Answers every request with the scripted headers; records what it was sent."""

    name = "origin"

    def __init__(self, headers: dict[str, str], body: bytes = b"body") -> None:
        self.headers, self.body = headers, body
        self.sent: list[CIMultiDict[str]] = []

    async def request(self, ex: Exchange) -> None:
        up = ex.upstream_headers
        sent = up if up is not None else CIMultiDict(ex.request.headers)
        self.sent.append(sent.copy())
        etag = self.headers.get("ETag")
        if etag is not None and sent.get("If-None-Match") == etag:
            ex.response = EdgeResponse(304, CIMultiDict(self.headers))
        else:
            ex.response = EdgeResponse(200, CIMultiDict(self.headers), body=self.body)
        ex.notes["from_origin"] = True

    async def response(self, ex: Exchange) -> None:
        return None


def pipeline(origin: CannedOrigin, **config: object) -> Pipeline:
    cfg = CacheConfig.model_validate(config)
    stage = CacheStage(cfg, "pop-t", origin, EdgeCache(cfg, CollectorRegistry()))
    return Pipeline([stage.guard(), stage, origin])


async def run(p: Pipeline, target: str, **headers: str) -> Exchange:
    path, _, query = target.partition("?")
    ex = Exchange(
        ClientRequest(
            "GET",
            path,
            query,
            CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}),
            "203.0.113.1",
            host="www.example",
        ),
        pop="pop-t",
        ray_id="r",
    )
    await p.run(ex)
    return ex


def x_cache(ex: Exchange) -> str:
    assert ex.response is not None
    return ex.response.headers["X-Cache"]


async def test_key_options_ignore_query() -> None:
    p = pipeline(CannedOrigin({"Cache-Control": "max-age=60"}), key={"ignore_query": True})
    assert x_cache(await run(p, "/a?x=1")) == "MISS"
    assert x_cache(await run(p, "/a?x=2")) == "HIT"


async def test_key_options_include_a_header() -> None:
    p = pipeline(CannedOrigin({"Cache-Control": "max-age=60"}), key={"headers": ["X-Device"]})
    assert x_cache(await run(p, "/a", X_Device="mobile")) == "MISS"
    assert x_cache(await run(p, "/a", X_Device="desktop")) == "MISS"
    assert x_cache(await run(p, "/a", X_Device="mobile")) == "HIT"


async def test_client_conditionals_and_range_are_not_forwarded_our_validators_are() -> None:
    origin = CannedOrigin({"Cache-Control": "max-age=0", "ETag": '"e"'})
    p = pipeline(origin)
    ex = await run(p, "/a", **{"If-None-Match": '"client"', "Range": "bytes=0-1"})
    assert ex.response is not None and ex.response.status == 206
    assert not any(h in origin.sent[0] for h in ("If-None-Match", "Range", "If-Modified-Since"))
    ex = await run(p, "/a")
    assert origin.sent[1]["If-None-Match"] == '"e"' and x_cache(ex) == "REVALIDATED"


async def test_targeted_cache_control_overrides_cache_control() -> None:
    p = pipeline(CannedOrigin({"Cache-Control": "no-store", "CDN-Cache-Control": "max-age=60"}))
    await run(p, "/a")
    assert x_cache(await run(p, "/a")) == "HIT"
    p = pipeline(
        CannedOrigin({"Cache-Control": "max-age=60", "Edgelab-CDN-Cache-Control": "no-store"})
    )
    await run(p, "/a")
    assert x_cache(await run(p, "/a")) == "MISS"
    p = pipeline(
        CannedOrigin({"Cache-Control": "max-age=60", "My-CDN-Control": "no-store"}),
        targeted_field="My-CDN-Control",
    )
    await run(p, "/a")
    assert x_cache(await run(p, "/a")) == "MISS"


async def test_disabled_cache_bypasses_everything() -> None:
    origin = CannedOrigin({"Cache-Control": "max-age=60"})
    p = pipeline(origin, enabled=False)
    for _ in range(2):
        ex = await run(p, "/a")
        assert x_cache(ex) == "BYPASS"
        assert ex.response is not None and "fwd=bypass" in ex.response.headers["Cache-Status"]
    assert len(origin.sent) == 2


class BrokenOrigin(CannedOrigin):
    """Answers once, then fails inside the edge (a bug, not an origin error)."""

    broken = False

    async def request(self, ex: Exchange) -> None:
        if self.broken:
            raise RuntimeError("inner stage bug")
        await super().request(ex)


async def test_an_inner_stage_failure_is_answered_stale_within_stale_if_error() -> None:
    origin = BrokenOrigin({"Cache-Control": "max-age=0, stale-if-error=60", "ETag": '"e"'})
    p = pipeline(origin)
    await run(p, "/a")
    origin.broken = True
    ex = await run(p, "/a")
    assert ex.response is not None and ex.response.status == 200 and x_cache(ex) == "STALE"
    assert ex.response.body == b"body" and ex.error is None
    assert "RuntimeError" in ex.notes["cache_served_for_error"]
    ex = await run(p, "/never-stored")
    assert ex.response is not None and ex.response.status == 500


def test_the_guard_is_idle_exactly_while_no_stale_if_error_window_is_set() -> None:
    cfg = CacheConfig()
    stage = CacheStage(cfg, "pop-t", CannedOrigin({}), EdgeCache(cfg, CollectorRegistry()))
    guard = stage.guard()
    assert guard.idle
    stage.reconfigure(CacheConfig(stale_if_error_s=60))
    assert not guard.idle
    stage.reconfigure(CacheConfig(stale_if_error_s=60, enabled=False))
    assert guard.idle
