from __future__ import annotations

import pytest

from edgelab.policy.cache.status import cache_status


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"hit": True, "ttl_s": 41.7}, "pop; hit; ttl=41"),
        (
            {"hit": True, "ttl_s": -3.5, "detail": "stale-while-revalidate"},
            "pop; hit; ttl=-3; detail=stale-while-revalidate",
        ),
        (
            {"fwd": "uri-miss", "fwd_status": 200, "ttl_s": 60.0, "stored": True},
            "pop; fwd=uri-miss; fwd-status=200; ttl=60; stored",
        ),
        ({"fwd": "uri-miss", "collapsed": True}, "pop; fwd=uri-miss; collapsed"),
        (
            {"fwd": "vary-miss", "stored": False, "detail": "private"},
            "pop; fwd=vary-miss; stored=?0; detail=private",
        ),
        ({"fwd": "method", "fwd_status": 201}, "pop; fwd=method; fwd-status=201"),
        ({"hit": True, "ttl_s": float("inf")}, "pop; hit"),
    ],
)
def test_cache_status(kwargs: dict[str, object], expected: str) -> None:
    assert cache_status("pop", **kwargs) == expected  # type: ignore[arg-type]
