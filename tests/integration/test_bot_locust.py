"""The load tests' own Locust users through a real edge: bots score low, browsers high.

The users are `loadtests/users.py` (BrowserUser, ApiUser, BotUser) run by real Locust
(`edgelab.loadgen.surge.run_surge`); the edge records each request's score, and a rule blocks
scores under 30 everywhere, so requests.csv shows who got through.
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

from edgelab.edge.exchange import Exchange
from edgelab.loadgen.agents import API_UA, BOT_UAS, BROWSER_UAS
from edgelab.loadgen.records import read_requests
from edgelab.loadgen.shapes import Steady
from edgelab.loadgen.surge import log_tail, run_surge
from edgelab.loadgen.targets import parse_targets
from edgelab.origin.server import OriginServer
from tests.conftest import EdgeFactory


def profile_of(user_agent: str) -> str:
    if user_agent == API_UA:
        return "api"
    if user_agent in BROWSER_UAS:
        return "browser"
    assert user_agent in BOT_UAS, user_agent
    return "bot"


async def test_locust_bot_users_score_clearly_lower_than_browser_users(
    tmp_path: Path, make_edge: EdgeFactory, origin: OriginServer
) -> None:
    rule = {"id": "bots", "path_prefix": "/", "score_below": 30}
    pop = await make_edge(origin.addresses["http"], pop="a1", bot={"rules": [rule]})
    scores: dict[str, list[int]] = {"browser": [], "api": [], "bot": []}

    def observe(ex: Exchange, _: float) -> None:
        if "bot_score" in ex.notes:
            ua = ex.request.headers.get("User-Agent", "")
            scores[profile_of(ua)].append(ex.notes["bot_score"])

    pop.observers.append(observe)
    handle = run_surge(
        parse_targets(
            {
                "cdn-a": [pop.addresses["proxy"]],
                "mix": {"browser": 2, "api": 1, "attacker": 0, "bot": 1},
                "think_time_scale": 0.1,
                "seed": 11,
                "timeout_s": 5,
            },
            "test",
        ),
        Steady.model_validate({"users": 8, "spawn_rate": 100, "duration_s": 3}),
        None,
        tmp_path / "run",
    )
    try:
        result = await asyncio.to_thread(handle.wait, 150)
    finally:
        handle.stop()
    assert result.exit_code == 0, log_tail(handle.out_dir, 40)

    browser, bot = statistics.mean(scores["browser"]), statistics.mean(scores["bot"])
    assert browser - bot > 40, (browser, bot)
    assert max(scores["bot"]) < 30 < min(scores["browser"])
    assert (
        scores["api"] and min(scores["api"]) > 30
    )  # signed-in app clients stay above the bot rule
    rows = read_requests(handle.out_dir / "requests.csv")
    by_user = {u: [r.status for r in rows if r.user == u] for u in ("browser", "api", "bot")}
    assert by_user["bot"] and set(by_user["bot"]) == {403}
    assert by_user["browser"] and 403 not in by_user["browser"]
    assert 403 not in by_user["api"]
