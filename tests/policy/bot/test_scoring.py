from __future__ import annotations

import pytest
from multidict import CIMultiDict

from edgelab.edge.stages.bot import default_feature_file
from edgelab.policy.bot.features import Feature, parse_feature_file
from edgelab.policy.bot.scoring import BASE_SCORE, UNSCORED, ScoringModel
from edgelab.policy.bot.signals import RequestSignals
from edgelab.testing.clients import APPS, CLIENT_PROFILES, PROFILE_IS_BOT

SHIPPED = ScoringModel(parse_feature_file(default_feature_file()))


def signals(
    profile: str, method: str = "GET", path: str = "/page/1", rate: float = 0.5
) -> RequestSignals:
    headers = [("Host", "shop.example"), *CLIENT_PROFILES[profile]]
    return RequestSignals.extract(method, path, headers, rate)


@pytest.mark.parametrize("profile", sorted(CLIENT_PROFILES))
def test_shipped_features_separate_browsers_from_bots(profile: str) -> None:
    # Bots and scrapers fetch fast (60 requests/s); a browser user a page now and then.
    score = SHIPPED.score(signals(profile, rate=60 if PROFILE_IS_BOT[profile] else 0.5))
    if PROFILE_IS_BOT[profile]:
        assert score < 30, profile
    elif profile in APPS:
        assert 30 < score < 80, profile
    else:
        assert score > 80, profile


def test_a_scraper_with_a_browser_user_agent_still_scores_below_browsers_when_slow() -> None:
    slow = SHIPPED.score(signals("stealth-scraper", rate=0.5))
    assert slow < min(SHIPPED.score(signals(p)) for p in ("chrome", "firefox", "safari")) - 20


def test_a_browser_in_a_surge_still_scores_as_a_human() -> None:
    assert SHIPPED.score(signals("firefox", rate=500)) > 60


def test_a_model_without_features_scores_every_request_0() -> None:
    model = ScoringModel(None)
    assert model.score(signals("chrome")) == UNSCORED == 0
    assert model.score_request("GET", "/", CIMultiDict(CLIENT_PROFILES["chrome"]), 0.0) == 0


def one(kind: str, name: str, weight: float = 10) -> ScoringModel:
    return ScoringModel([Feature(name, kind, weight)])


@pytest.mark.parametrize(
    ("model", "headers", "method", "path", "rate", "delta"),
    [
        (one("ua_token", "curl/"), [("User-Agent", "curl/8")], "GET", "/", 0, 10),
        (one("ua_token", "curl/"), [("User-Agent", "Wget/1")], "GET", "/", 0, 0),
        (one("header_present", "Accept-Language"), [("accept-language", "en")], "GET", "/", 0, 10),
        (one("header_absent", "accept-language"), [], "GET", "/", 0, 10),
        (
            one("header_order", "accept<accept-encoding"),
            [("Accept", "*/*"), ("Accept-Encoding", "br")],
            "GET",
            "/",
            0,
            10,
        ),
        (
            one("header_order", "accept<accept-encoding"),
            [("Accept-Encoding", "br"), ("Accept", "*/*")],
            "GET",
            "/",
            0,
            0,
        ),
        (one("header_order", "accept<accept-encoding"), [("Accept", "*/*")], "GET", "/", 0, 0),
        (one("header_value", "accept:text/html"), [("Accept", "TEXT/HTML,*/*")], "GET", "/", 0, 10),
        (one("path_contains", "/.env"), [], "GET", "/app/.ENV", 0, 10),
        (one("method", "head"), [], "HEAD", "/", 0, 10),
        (one("rate_over", "5"), [], "GET", "/", 5.1, 10),
        (one("rate_over", "5"), [], "GET", "/", 5.0, 0),
        (one("ua_token", "x", weight=-500), [("User-Agent", "x")], "GET", "/", 0, 1 - BASE_SCORE),
        (one("ua_token", "x", weight=500), [("User-Agent", "x")], "GET", "/", 0, 99 - BASE_SCORE),
    ],
)
def test_each_feature_kind(
    model: ScoringModel,
    headers: list[tuple[str, str]],
    method: str,
    path: str,
    rate: float,
    delta: float,
) -> None:
    s = RequestSignals.extract(method, path, headers, rate)
    assert model.score(s) == BASE_SCORE + delta
    # The fast path from raw headers agrees, also on a second (cached) call.
    for _ in range(2):
        assert model.score_request(method, path, CIMultiDict(headers), rate) == BASE_SCORE + delta


def test_duplicate_rows_count_twice_when_loaded() -> None:
    f = Feature("curl/", "ua_token", -10)
    s = RequestSignals.extract("GET", "/", [("User-Agent", "curl/8")], 0)
    assert ScoringModel([f, f]).score(s) == BASE_SCORE - 20
