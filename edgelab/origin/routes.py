"""The site's route classes and the attack marker: shared by the origin and the load tests.

    route_class("/static/app.js")     # "static"
    ATTACK_MARKER                     # "X-Edgelab-Attack"

Kept free of aiohttp and prometheus so Locust processes can import it cheaply.
"""

from __future__ import annotations

ATTACK_MARKER = "X-Edgelab-Attack"
"""Header the load tests put on malicious requests; the WAF never reads it, the origin counts it."""


def route_class(path: str) -> str:
    """A low-cardinality label for a path: static, page, api, search, login or other."""
    for prefix, name in (("/static/", "static"), ("/page/", "page"), ("/api/", "api")):
        if path.startswith(prefix):
            return name
    if path == "/search":
        return "search"
    if path == "/login":
        return "login"
    return "other"
