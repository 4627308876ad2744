"""The targets file: what each bypass needs, and one-line errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgelab.errors import ConfigError
from edgelab.loadgen.profiles import is_failure, parse_mix
from edgelab.loadgen.targets import load_targets, parse_targets

BASE: dict[str, Any] = {"cdn-a": ["http://127.0.0.1:8000/"]}


def test_minimal_file(tmp_path: Path) -> None:
    f = tmp_path / "targets.json"
    f.write_text(json.dumps(BASE))
    t = load_targets(f)
    assert t.cdn_a == ["http://127.0.0.1:8000"] and t.bypass == "none"
    assert t.retry.mode == "none" and t.mix["browser"] > 0


def test_round_trip_keeps_the_file_keys() -> None:
    t = parse_targets(
        {**BASE, "cdn-b": ["http://b:1"], "steering": {"url": "http://s:1"}, "bypass": "multi-cdn"},
        "x",
    )
    data = json.loads(t.to_json())
    assert data["cdn-a"] == ["http://127.0.0.1:8000"] and data["cdn-b"] == ["http://b:1"]
    assert parse_targets(data, "again") == t


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"bypass": "dns-failover"}, "bypass dns-failover needs a steering section"),
        ({"bypass": "multi-cdn", "steering": {"url": "http://s"}}, "needs cdn-b POPs"),
        ({"bypass": "retry-direct"}, "needs the origin URL"),
        ({"bypass": "serve-stale"}, "bypass: Input should be"),
        ({"origin": "ftp://x"}, "origin: Value error, must be an http:// URL"),
        ({"mix": {"browser": 0}}, "at least one above 0"),
        ({"mix": {"robot": 1}}, "mix.robot.[key]"),
        ({"cdn-a": []}, "cdn-a: List should have at least 1 item"),
        ({"retry": {"mode": "backoff", "max_retries": -1}}, "retry.max_retries"),
    ],
)
def test_bad_targets(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps({**BASE, **extra}))
    with pytest.raises(ConfigError) as e:
        load_targets(f)
    assert str(f) in str(e.value) and message in str(e.value)


def test_parse_mix() -> None:
    assert parse_mix("browser=6, api=3,attacker=0") == {"browser": 6, "api": 3, "attacker": 0}
    for bad in ("browser", "robot=1", "api=-2", "api=x", "api=0"):
        with pytest.raises(ConfigError, match="--edgelab-mix"):
            parse_mix(bad)


@pytest.mark.parametrize(
    ("profile", "status", "failed"),
    [
        ("browser", 200, False),
        ("browser", 304, False),
        ("browser", 403, True),
        ("api", 429, True),
        ("attacker", 403, False),
        ("bot", 429, False),
        ("bot", 500, True),
        ("attacker", 0, True),
    ],
)
def test_failures_per_profile(profile: str, status: int, failed: bool) -> None:
    assert is_failure(profile, status) is failed
