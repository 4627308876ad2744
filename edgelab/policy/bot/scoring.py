"""Bot score 1-99 from request signals and the loaded features: pure, no clock, no I/O.

    model = ScoringModel(table.features)
    model.score(RequestSignals.extract("GET", "/", headers, rate_rps=0.2))   # 1 (bot) .. 99 (human)
    ScoringModel(None).score(signals)                                       # 0: nothing loaded

The score starts at `BASE_SCORE` and each matching feature adds its weight (negative weights
pull toward "bot"); the sum is clamped to 1..99, as bot scores are reported by CDNs (1 = surely
automated, 99 = surely human). A model built without features answers 0 to every request: this
is what the old proxy did on 2025-11-18 when its feature file failed to load, and rules like
"block score < 30" then blocked every real user (../shared/incidents.md #1, `degrade`).

Feature kinds (`edgelab.policy.bot.features`): `ua_token` (token in the user agent),
`header_present` / `header_absent` (header name), `header_order` (`a<b`: both sent, a first),
`header_value` (`header:substring` in that header's value), `path_contains`, `method`,
`rate_over` (client rate above this many requests/s).

Speed: the part of the score that depends only on the client's fingerprint (user agent, header
names in order, the values features look at) is cached per fingerprint, and the method and path
part per (method, path), so a request from a client already seen costs two dict lookups plus
the rate features (benchmarks/control.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from edgelab.policy.bot.features import Feature
from edgelab.policy.bot.signals import RequestSignals


class Headers(Protocol):
    """What `score_request` reads: a case-insensitive multidict such as aiohttp's headers."""

    def keys(self) -> Iterable[str]: ...
    def get(self, key: str, default: str) -> str: ...
    def items(self) -> Iterable[tuple[str, str]]: ...


BASE_SCORE = 50.0
"""Score of a request that matches no feature: undecided."""

UNSCORED = 0
"""The score a model with no loaded features gives (the legacy proxy's 2025-11-18 behaviour)."""


class ScoringModel:
    """Features compiled into per-kind lookups; `score` is pure apart from its fingerprint cache."""

    def __init__(self, features: Sequence[Feature] | None, cache_size: int = 4096) -> None:
        self.loaded = features is not None
        self.count = len(features) if features is not None else 0
        self._ua: list[tuple[str, float]] = []
        self._present: dict[str, float] = {}
        self._absent: dict[str, float] = {}
        self._order: list[tuple[str, str, float]] = []
        self._values: list[tuple[str, str, float]] = []
        self._path: list[tuple[str, float]] = []
        self._method: dict[str, float] = {}
        self._rate: list[tuple[float, float]] = []
        for f in features or ():
            self._add(f)
        self._value_headers = tuple(sorted({"user-agent", *(h for h, _, _ in self._values)}))
        self._cache: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}
        self._raw_cache: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}
        self._route_cache: dict[tuple[str, str], float] = {}
        self._cache_size = cache_size

    def _add(self, f: Feature) -> None:
        name, w = f.name.lower(), f.weight
        match f.kind:
            case "ua_token":
                self._ua.append((name, w))
            case "header_present":
                self._present[name] = self._present.get(name, 0.0) + w
            case "header_absent":
                self._absent[name] = self._absent.get(name, 0.0) + w
            case "header_order":
                a, _, b = name.partition("<")
                self._order.append((a.strip(), b.strip(), w))
            case "header_value":
                h, _, sub = name.partition(":")
                self._values.append((h.strip(), sub.strip(), w))
            case "path_contains":
                self._path.append((name, w))
            case "method":
                self._method[name.upper()] = self._method.get(name.upper(), 0.0) + w
            case "rate_over":
                self._rate.append((float(name), w))

    def score(self, s: RequestSignals) -> int:
        """1..99 for a loaded model, `UNSCORED` (0) for a model without features."""
        if not self.loaded:
            return UNSCORED
        key = (s.header_names, tuple(s.header_values.get(h, "") for h in self._value_headers))
        fingerprint = self._cache.get(key)
        if fingerprint is None:
            fingerprint = self._remember(key, self._fingerprint(s))
        return self._finish(fingerprint, s.method, s.path, s.rate_rps)

    def score_request(self, method: str, path: str, headers: Headers, rate_rps: float) -> int:
        """`score` straight from a request's headers: a client seen before costs no signal
        extraction at all (the fingerprint is looked up by the raw header names and values)."""
        if not self.loaded:
            return UNSCORED
        key = (tuple(headers.keys()), tuple([headers.get(h, "") for h in self._value_headers]))
        fingerprint = self._raw_cache.get(key)
        if fingerprint is None:
            s = RequestSignals.extract(method, path, headers.items(), rate_rps)
            fingerprint = self._fingerprint(s)
            if len(self._raw_cache) >= self._cache_size:
                self._raw_cache.clear()
            self._raw_cache[key] = fingerprint
        return self._finish(fingerprint, method.upper(), path.lower(), rate_rps)

    def _finish(self, fingerprint: float, method: str, path: str, rate: float) -> int:
        route = self._route_cache.get((method, path))
        if route is None:
            route = self._method.get(method, 0.0)
            for sub, w in self._path:
                if sub in path:
                    route += w
            if len(self._route_cache) >= self._cache_size:
                self._route_cache.clear()
            self._route_cache[(method, path)] = route
        total = BASE_SCORE + fingerprint + route
        for threshold, w in self._rate:
            if rate > threshold:
                total += w
        return max(1, min(99, round(total)))

    def _remember(self, key: tuple[tuple[str, ...], tuple[str, ...]], value: float) -> float:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = value
        return value

    def _fingerprint(self, s: RequestSignals) -> float:
        """The weight of the features that depend only on the client's fingerprint."""
        values = s.header_values
        total = 0.0
        ua = s.ua
        for token, w in self._ua:
            if token in ua:
                total += w
        present = set(s.header_names)
        for name, w in self._present.items():
            if name in present:
                total += w
        for name, w in self._absent.items():
            if name not in present:
                total += w
        if self._order:
            pos: dict[str, int] = {}
            for i, name in enumerate(s.header_names):
                pos.setdefault(name, i)
            for a, b, w in self._order:
                pa, pb = pos.get(a), pos.get(b)
                if pa is not None and pb is not None and pa < pb:
                    total += w
        for h, sub, w in self._values:
            if sub in values.get(h, ""):
                total += w
        return total
