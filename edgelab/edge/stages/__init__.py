"""The edge request path, in order. Request hooks run top to bottom, response hooks bottom up.

    request id -> headers -> cache guard -> faults -> waf -> bot -> cache -> origin

Bracketed stages slot in as their issues land. The cache guard is the cache's serve-stale hook
for failures of the modules between it and the cache (`edgelab/edge/stages/cache.py`). A stage that reads pushed config registers an
applier on `artifacts`; a stage with admin endpoints exposes them as `admin_routes()`, served on
the admin listener only.
"""

from __future__ import annotations

from edgelab.config.edge import EdgeConfig
from edgelab.edge.artifacts import ArtifactRegistry
from edgelab.edge.pipeline import Stage
from edgelab.edge.stages.bot import BotStage
from edgelab.edge.stages.cache import CacheStage
from edgelab.edge.stages.faults import FaultStage
from edgelab.edge.stages.headers import HeadersStage
from edgelab.edge.stages.origin import OriginStage
from edgelab.edge.stages.request_id import RequestIdStage
from edgelab.edge.stages.waf import WafStage
from edgelab.edge.upstream import Upstream


def default_stages(
    config: EdgeConfig, upstream: Upstream, artifacts: ArtifactRegistry
) -> list[Stage]:
    origin = OriginStage(upstream)
    cache = CacheStage(config.cache, config.pop, fetch=origin)
    return [
        RequestIdStage(config.ray_header),
        HeadersStage(config.pop),
        cache.guard(),
        FaultStage(config.faults.seed),
        WafStage(config.waf, artifacts),
        BotStage(config.bot, artifacts),
        cache,
        origin,
    ]
