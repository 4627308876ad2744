"""What bot scoring reads from a request: plain values, extracted once per request.

    signals = RequestSignals.extract("GET", "/page/1", request.headers.items(), rate_rps=2.5)
    signals.header_names   # ("host", "user-agent", "accept", ...) in the order sent
    signals.ua             # lower-cased User-Agent ("" when absent)

Header order matters: browsers send their headers in a fixed, recognisable order, while HTTP
libraries send few headers in their own order. The client key (`client_key`) groups requests for
the rate signal: in the lab every Locust user shares 127.0.0.1, so the key is the address, the
user agent and the client's session credential (its `Cookie` or `Authorization`, when it sends
one). Each browser or app user then counts alone, while cookieless scrapers with one user agent
add up, as one busy client would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestSignals:
    method: str
    path: str
    ua: str
    """User-Agent, lower-cased; "" when the client sent none."""
    header_names: tuple[str, ...]
    """Lower-cased header names in the order the client sent them."""
    header_values: dict[str, str]
    """Lower-cased name -> lower-cased value (first occurrence)."""
    rate_rps: float
    """This client's recent request rate (see `edgelab.policy.bot.ratelimit`)."""

    @classmethod
    def extract(
        cls, method: str, path: str, headers: Iterable[tuple[str, str]], rate_rps: float = 0.0
    ) -> RequestSignals:
        names: list[str] = []
        values: dict[str, str] = {}
        for k, v in headers:
            lk = k.lower()
            names.append(lk)
            if lk not in values:
                values[lk] = v.lower()
        return cls(
            method=method.upper(),
            path=path.lower(),
            ua=values.get("user-agent", ""),
            header_names=tuple(names),
            header_values=values,
            rate_rps=rate_rps,
        )


def client_key(client_ip: str, user_agent: str, credential: str = "") -> str:
    """The identity the per-client rate is counted under: address, user agent, and the
    session credential (`Cookie` or `Authorization`) when the client sends one."""
    return f"{client_ip}|{user_agent}|{hash(credential) if credential else ''}"
