"""The shipped attack payloads: every class present, every request marked."""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from edgelab.errors import ConfigError
from edgelab.loadgen.attacks import build, load_attacks
from edgelab.origin.server import ATTACK_MARKER, route_class


def test_the_four_classes_ship() -> None:
    names = {c.name for c in load_attacks().classes}
    assert names == {"sqli", "xss", "traversal", "cmdi"}


def test_every_request_carries_its_class_in_the_marker() -> None:
    requests = load_attacks().all_requests()
    assert len(requests) > 40
    for req in requests:
        assert req.headers[ATTACK_MARKER] == req.category
        assert req.path.startswith("/")
        assert route_class(req.path.partition("?")[0]) != "other"


def test_query_payloads_round_trip_through_url_encoding() -> None:
    payload = "' OR '1'='1 -- <script>"
    req = build("sqli", payload, "search", 1)
    assert parse_qs(urlsplit(req.path).query)["q"] == [payload]
    form = build("sqli", payload, "login-form", 1)
    assert form.method == "POST" and form.body is not None
    assert parse_qs(form.body.decode())["username"] == [payload]


def test_draw_is_reproducible_and_covers_classes() -> None:
    cat = load_attacks()
    a = [cat.draw(random.Random(9)) for _ in range(3)]
    b = [cat.draw(random.Random(9)) for _ in range(3)]
    assert a == b
    rng = random.Random(1)
    assert {cat.draw(rng).category for _ in range(200)} == {"sqli", "xss", "traversal", "cmdi"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("[sqli]\npayloads = ['x']\n", "needs payloads and where"),
     ("[sqli]\nwhere = ['cookie']\npayloads = ['x']\n", "bad: ['cookie']"),
     ("[sqli\n", "invalid TOML"), ("", "no attack classes")],
)  # fmt: skip
def test_bad_payload_file(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "attacks.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_attacks(f)
