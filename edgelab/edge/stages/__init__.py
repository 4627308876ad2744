"""The edge request path, in order. Request hooks run top to bottom, response hooks bottom up.

    request id -> headers -> origin

Later stages slot in here: internal fault hooks, WAF, bot management, cache (before origin).
"""

from __future__ import annotations

from edgelab.config.edge import EdgeConfig
from edgelab.edge.pipeline import Stage
from edgelab.edge.stages.headers import HeadersStage
from edgelab.edge.stages.origin import OriginStage
from edgelab.edge.stages.request_id import RequestIdStage
from edgelab.edge.upstream import Upstream


def default_stages(config: EdgeConfig, upstream: Upstream) -> list[Stage]:
    return [
        RequestIdStage(config.ray_header),
        HeadersStage(config.pop),
        OriginStage(upstream),
    ]
