from __future__ import annotations

import re

from multidict import CIMultiDict

from edgelab.edge.exchange import ClientRequest, EdgeResponse, Exchange
from edgelab.edge.stages.request_id import _BATCH, RequestIdStage


def test_every_request_gets_its_own_ray_id_across_batches() -> None:
    stage = RequestIdStage("X-Edgelab-Ray")
    ids = []
    for _ in range(3 * _BATCH + 5):  # past several batches of drawn digits
        ex = Exchange(ClientRequest("GET", "/", "", CIMultiDict(), "203.0.113.1"), pop="pop-7")
        stage.request(ex)
        ids.append(ex.ray_id)
    assert all(re.fullmatch(r"[0-9a-f]{16}-pop-7", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_ray_id_goes_out_on_the_response() -> None:
    stage = RequestIdStage("X-Edgelab-Ray")
    ex = Exchange(ClientRequest("GET", "/", "", CIMultiDict(), "203.0.113.1"), pop="pop-7")
    stage.request(ex)
    ex.response = EdgeResponse(200)
    stage.response(ex)
    assert ex.response.headers["X-Edgelab-Ray"] == ex.ray_id
