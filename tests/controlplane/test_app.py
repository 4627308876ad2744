"""The control plane's API on a real socket: validation, errors, token, long-poll, generators."""

from __future__ import annotations

import asyncio
import base64
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from edgelab.controlplane.app import ControlServer
from edgelab.errors import ConfigError
from edgelab.testing.servers import running
from tests.waiting import until


@pytest.fixture
async def cp(stack: AsyncExitStack) -> str:
    server = await stack.enter_async_context(running(ControlServer()))
    return server.addresses["http"]


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, url, json=body, **kw) as r:
        return r.status, await r.json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/v1/artifacts/cats", {"content": "x"}, 404, "unknown artifact kind 'cats'"),
        ("POST", "/v1/artifacts/bot-features", {}, 400, "give content, content_b64 or a mutation"),
        ("POST", "/v1/artifacts/bot-features", {"mutation": "melt"}, 400, "body: mutation:"),
        (
            "POST",
            "/v1/artifacts/bot-features",
            {"content": "x", "colour": 1},
            400,
            "body: colour: Extra inputs",
        ),
        (
            "POST",
            "/v1/artifacts/bot-features",
            {"content": "x", "target": {"fraction": 2}},
            400,
            "body: target.fraction",
        ),
        (
            "POST",
            "/v1/artifacts/bot-features",
            {"content": "x", "target": {"fraction": 0.5, "pops": ["a"]}},
            400,
            "not both",
        ),
        ("POST", "/v1/artifacts/bot-features", {"content_b64": "%%%"}, 400, "not valid base64"),
        ("POST", "/v1/artifacts/killswitches", {"mutation": "truncate"}, 409, "no version yet"),
        ("POST", "/v1/artifacts/bot-features/rollback", {}, 409, "no earlier known-good version"),
        ("POST", "/v1/artifacts/bot-features/rollback", {"version": 9}, 404, "has no version 9"),
        ("GET", "/v1/artifacts/bot-features/latest", None, 404, "has no version yet"),
        ("GET", "/v1/artifacts/bot-features/one", None, 400, "a number or 'latest'"),
        ("GET", "/v1/poll?pop=", None, 400, "query: pop"),
        ("GET", "/v1/poll?pop=a&since=bot-features", None, 400, "kind:version pairs"),
        ("GET", "/v1/poll?pop=a&timeout=soon", None, 400, "query: timeout"),
        (
            "POST",
            "/v1/report",
            {"pop": "a", "reports": [{"kind": "x", "version": 1, "outcome": "applied"}]},
            404,
            "unknown artifact kind",
        ),
        (
            "POST",
            "/v1/report",
            {"pop": "a", "reports": [{"kind": "waf-rules", "version": 1, "outcome": "meh"}]},
            400,
            "reports.0.outcome",
        ),
        ("POST", "/v1/generators", {"name": "g"}, 400, "period_s: Field required"),
        ("DELETE", "/v1/generators/nope", None, 404, "no generator 'nope'"),
        ("GET", "/v1/nothing-here", None, 404, "Not Found"),
    ],
)
async def test_bad_calls_get_one_clear_line(
    cp: str,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    got, data = await call(http, method, cp + path, body)
    assert got == status
    assert error in data["error"] and "\n" not in data["error"]


async def test_invalid_json_body(cp: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{cp}/v1/artifacts/bot-features", data=b"{oops") as r:
        assert r.status == 400 and "invalid JSON" in (await r.json())["error"]


async def test_push_read_back_and_poll(cp: str, http: aiohttp.ClientSession) -> None:
    status, out = await call(
        http, "POST", f"{cp}/v1/artifacts/waf-rules", {"content": "rules: []\n", "author": "me"}
    )
    assert status == 201 and out["version"]["version"] == 1
    assert out["propagation"] == {
        "kind": "waf-rules",
        "version": 1,
        "targets": [],
        "pending": [],
        "offline": [],
        "complete": False,
        "outcomes": {},
        "reports": {},
        "lag_all_s": None,
    }
    _, v = await call(http, "GET", f"{cp}/v1/artifacts/waf-rules/1")
    assert v["content"] == "rules: []\n" and v["author"] == "me"
    async with http.get(f"{cp}/v1/artifacts/waf-rules/latest/content") as r:
        assert await r.read() == b"rules: []\n"
        assert r.headers["X-Edgelab-Checksum"] == v["checksum"]
    # A POP that has nothing gets it at once; one that has it waits (here: a short timeout).
    _, polled = await call(http, "GET", f"{cp}/v1/poll?pop=ams&timeout=10")
    [art] = polled["artifacts"]
    assert (art["kind"], art["version"]) == ("waf-rules", 1)
    assert base64.b64decode(art["content_b64"]) == b"rules: []\n"
    _, empty = await call(http, "GET", f"{cp}/v1/poll?pop=ams&since=waf-rules:1&timeout=0.05")
    assert empty["artifacts"] == []
    _, kinds = await call(http, "GET", f"{cp}/v1/artifacts")
    assert kinds["kinds"]["waf-rules"]["versions"] == 1
    assert kinds["kinds"]["edge-config"] == {"latest": None, "versions": 0}


async def test_a_waiting_poll_answers_as_soon_as_something_is_pushed(
    cp: str, http: aiohttp.ClientSession
) -> None:
    poll = asyncio.create_task(call(http, "GET", f"{cp}/v1/poll?pop=ams&timeout=60"))

    async def polling() -> bool:
        _, pops = await call(http, "GET", f"{cp}/v1/pops")
        return bool(pops["pops"]) and pops["pops"][0]["connected"]

    await until(polling, "the poll to be in flight")
    await call(http, "POST", f"{cp}/v1/killswitch", {"modules": {"bot": True}})
    _, answer = await asyncio.wait_for(poll, 30)
    assert [a["kind"] for a in answer["artifacts"]] == ["killswitches"]
    # Killswitches merge: a second call keeps what the first set.
    await call(http, "POST", f"{cp}/v1/killswitch", {"modules": {"waf": True}, "rules": [942100]})
    _, latest = await call(http, "GET", f"{cp}/v1/artifacts/killswitches/latest")
    assert latest["content"] == '{"modules": {"bot": true, "waf": true}, "rules": [942100]}'


async def test_generators_start_list_and_stop(cp: str, http: aiohttp.ClientSession) -> None:
    spec = {"name": "ff", "period_s": 0.05, "bad_probability": 1.0, "max_generations": 3}
    status, started = await call(http, "POST", f"{cp}/v1/generators", spec)
    assert status == 201 and started["running"]
    status, dup = await call(http, "POST", f"{cp}/v1/generators", spec)
    assert status == 409 and "already running" in dup["error"]

    async def finished() -> bool:
        _, g = await call(http, "GET", f"{cp}/v1/generators/ff")
        return g["running"] is False

    await until(finished, "the generator to stop after 3 generations")
    _, done = await call(http, "GET", f"{cp}/v1/generators/ff")
    assert done["generations"] == 3 and done["bad"] == 3
    _, history = await call(http, "GET", f"{cp}/v1/artifacts/bot-features?limit=2")
    assert [v["version"] for v in history["versions"]] == [2, 3]
    assert {v["author"] for v in history["versions"]} == {"generator:ff"}
    assert {v["mutation"] for v in history["versions"]} == {"duplicate-rows"}
    _, listed = await call(http, "GET", f"{cp}/v1/generators")
    assert [g["name"] for g in listed["generators"]] == ["ff"]
    _, stopped = await call(http, "DELETE", f"{cp}/v1/generators/ff")
    assert stopped["running"] is False


async def test_a_token_guards_every_change(
    stack: AsyncExitStack, http: aiohttp.ClientSession
) -> None:
    server = await stack.enter_async_context(running(ControlServer(token="s3cret")))
    url = server.addresses["http"] + "/v1/artifacts/bot-features"
    status, data = await call(http, "POST", url, {"content": "[]"})
    assert status == 401 and data == {"error": "admin token required"}
    status, _ = await call(
        http, "POST", url, {"content": "[]"}, headers={"Authorization": "Bearer s3cret"}
    )
    assert status == 201
    status, _ = await call(http, "GET", url)
    assert status == 200


def test_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="control --host 0.0.0.0: .* set --token"):
        ControlServer(host="0.0.0.0")
