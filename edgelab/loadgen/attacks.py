"""The attack payloads shipped with edgelab, and how an attacker user turns one into a request.

    catalogue = load_attacks()                      # from edgelab/loadgen/data/attacks.toml
    req = catalogue.draw(random.Random(3))
    req.method, req.path, req.headers["X-Edgelab-Attack"]   # "GET", "/search?q=...", "sqli"

Four classes (SQL injection, XSS, path traversal, command injection), one table each in the data
file. Every request carries the `X-Edgelab-Attack: <class>` marker: the WAF never reads it, the
origin counts it, so a report can say how much attack traffic reached the origin.
"""

from __future__ import annotations

import json
import random
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import quote_plus, urlencode

from edgelab.errors import ConfigError
from edgelab.origin.routes import ATTACK_MARKER

Where = Literal["search", "api-query", "page-query", "login-form", "api-json", "static-path"]
WHERES: tuple[Where, ...] = get_args(Where)


@dataclass(frozen=True, slots=True)
class AttackRequest:
    """One malicious request, ready to send."""

    category: str
    method: str
    path: str
    """Path and query as sent on the wire."""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttackClass:
    name: str
    where: tuple[Where, ...]
    payloads: tuple[str, ...]


def build(category: str, payload: str, where: Where, n: int) -> AttackRequest:
    """Place `payload` at injection point `where`; `n` picks a page or item number."""
    headers = {ATTACK_MARKER: category}
    match where:
        case "search":
            return AttackRequest(category, "GET", f"/search?q={quote_plus(payload)}", None, headers)
        case "api-query":
            return AttackRequest(
                category, "GET", f"/api/items?id={quote_plus(payload)}", None, headers
            )
        case "page-query":
            return AttackRequest(
                category, "GET", f"/page/{n}?ref={quote_plus(payload)}", None, headers
            )
        case "login-form":
            body = urlencode({"username": payload, "password": "hunter2"}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return AttackRequest(category, "POST", "/login", body, headers)
        case "api-json":
            headers["Content-Type"] = "application/json"
            body = json.dumps({"item": n, "text": payload}).encode()
            return AttackRequest(category, "POST", "/api/comments", body, headers)
        case "static-path":
            return AttackRequest(category, "GET", f"/static/{payload}", None, headers)


@dataclass(frozen=True, slots=True)
class AttackCatalogue:
    """Every attack class with its injection points and payloads."""

    classes: tuple[AttackClass, ...]

    def draw(self, rng: random.Random) -> AttackRequest:
        """A random class, payload and injection point, as one request."""
        cls = rng.choice(self.classes)
        return build(cls.name, rng.choice(cls.payloads), rng.choice(cls.where), rng.randint(1, 50))

    def all_requests(self) -> list[AttackRequest]:
        """Every payload at every injection point of its class (for WAF test corpora)."""
        return [build(c.name, p, w, 1) for c in self.classes for p in c.payloads for w in c.where]


def load_attacks(path: Path | None = None) -> AttackCatalogue:
    """Read the attack data file (the shipped one by default); raises ConfigError when bad."""
    if path is None:
        text = resources.files("edgelab.loadgen").joinpath("data/attacks.toml").read_text()
        source = "edgelab/loadgen/data/attacks.toml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from e
    classes = []
    for name, table in data.items():
        where = tuple(table.get("where", ()))
        payloads = tuple(table.get("payloads", ()))
        bad = [w for w in where if w not in WHERES]
        if bad or not where or not payloads:
            raise ConfigError(
                f"{source}: [{name}] needs payloads and where in {list(WHERES)} (bad: {bad})"
            )
        classes.append(AttackClass(name, where, payloads))
    if not classes:
        raise ConfigError(f"{source}: no attack classes")
    return AttackCatalogue(tuple(classes))
