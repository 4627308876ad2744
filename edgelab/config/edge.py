"""Edge (POP) configuration: one frozen model, every default explained.

    config = load_model(Path("edge.yaml"), EdgeConfig)

The control plane pushes exactly this file shape (`edge-config`), so a pushed config and a local
start cannot drift. Later stages add their own sections here (cache, waf, bot, faults).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgelab.config.bot import BotOptions
from edgelab.config.cache import CacheConfig
from edgelab.config.control import ControlOptions
from edgelab.config.waf import WafOptions


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamOptions(_Strict):
    """The pooled keep-alive client to the origin."""

    connect_timeout_s: float = Field(2.0, gt=0)
    """No TCP connection in this time: 504."""
    read_timeout_s: float = Field(10.0, gt=0)
    """No byte from the origin for this long (headers or body): 504."""
    max_connections: int = Field(256, gt=0)
    """Connections the pool keeps open to the origin at most."""
    keepalive_s: float = Field(30.0, gt=0)
    """An idle pooled connection is closed after this long."""
    client: Literal["pool", "session"] = "pool"
    """`pool`: keep-alive asyncio connections parsed with httptools (about twice the
    throughput); `session`: aiohttp's ClientSession (the reference implementation)."""


class ClientLimits(_Strict):
    """What the edge accepts from clients; past these a request gets a clean 4xx."""

    max_request_body_bytes: int = Field(100 * 1024 * 1024, ge=0)
    """A larger declared (or streamed) body is answered 413."""
    max_header_bytes: int = Field(8190, ge=1024)
    """Longest request target or header field: a longer target gets 414, a longer field 431,
    and so does a head (request line and fields) over four times this (edge/framing.py)."""
    keepalive_s: float = Field(75.0, gt=0)
    """An idle client connection is closed after this long."""
    header_timeout_s: float = Field(10.0, gt=0)
    """A request head (request line and headers) must arrive whole within this long: from the
    connection's start, or from the first byte of the next head on a kept-alive connection.
    Else 408 and close: a slowloris client cannot hold a connection by trickling bytes."""
    body_timeout_s: float = Field(30.0, gt=0)
    """No byte of a request body for this long: 408 and close. A client trickling its body
    (slow POST) would otherwise hold an origin connection and an origin worker as long as it
    liked."""
    max_connections: int = Field(4096, gt=0)
    """Open client connections at most. A new one beyond pushes out the connection longest
    waiting for a request head (idle or half-sent); if every one is busy with a request, the
    newcomer gets 503 and is closed. Keep it below the process's open-file limit."""


class FaultOptions(_Strict):
    """Internal fault hooks (set through the admin API at run time; only the seed is config)."""

    seed: int | None = None
    """Seeds the draw of percentage faults, so a chaos run can be replayed."""


class EdgeConfig(_Strict):
    """One POP's configuration."""

    pop: str = "pop-1"
    """This POP's name; it appears in `Via`, the ray id and error pages."""
    cdn: str = "cdn-a"
    """The CDN (fleet) this POP belongs to."""
    origin: str = "http://127.0.0.1:8080"
    """The only place this POP ever connects to for content."""
    upstream: UpstreamOptions = UpstreamOptions()
    client: ClientLimits = ClientLimits()
    faults: FaultOptions = FaultOptions()
    ray_header: str = "X-Edgelab-Ray"
    """Response header carrying the request id (CDN-style ray id: `<hex>-<pop>`)."""
    bot: BotOptions = BotOptions()
    """Bot management: scoring, score rules, failure policy (edgelab/config/bot.py)."""
    control: ControlOptions | None = None
    """Subscribe to a control plane for pushed artifacts; None = local files only."""
    cache: CacheConfig = CacheConfig()
    """The shared HTTP cache (`edgelab/config/cache.py`); swappable live by a pushed config."""
    waf: WafOptions = WafOptions()
    """The WAF (`edgelab/config/waf.py`): mode, paranoia, regex engine, failure policy, body."""

    @field_validator("origin")
    @classmethod
    def _http_origin(cls, v: str) -> str:
        from yarl import URL

        u = URL(v)
        if u.scheme not in ("http",) or not u.host:
            raise ValueError(f"origin must be an http://host:port URL, got {v!r}")
        return v
