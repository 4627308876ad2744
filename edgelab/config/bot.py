"""The edge's `bot` section: bot management, its score rules and its failure policy.

    bot:
      failure_policy: panic          # panic | degrade | reject | fail-open
      feature_limit: 200
      features_file: null            # null = the shipped edgelab/policy/bot/features/default.json
      rules:
        - {id: login-bots, path_prefix: /login, score_below: 30, action: block}

Pushed `bot-features` artifacts replace the feature file at runtime; a pushed `edge-config`
may replace this whole section live (`edgelab.edge.liveconfig`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgelab.policy.bot.features import DEFAULT_FEATURE_LIMIT
from edgelab.policy.failure import FailurePolicy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotRule(_Strict):
    """Act on requests whose bot score is below `score_below` (first matching rule wins)."""

    id: str = "bot-rule"
    """Named in verdicts, logs and the `rule` label of the verdict metric."""
    path_prefix: str = "/"
    """The rule applies to paths starting with this."""
    methods: tuple[str, ...] = ()
    """Methods it applies to (upper case); empty = every method."""
    score_below: int = Field(30, ge=1, le=100)
    """Scores strictly below this match (scores are 1..99; 0 = not scored)."""
    action: Literal["block", "log"] = "block"
    """`block` answers 403; `log` only counts the verdict."""

    @field_validator("methods")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m.upper() for m in v)


class BotOptions(_Strict):
    enabled: bool = True
    """Score requests at all; off = the stage passes everything without a score."""
    failure_policy: FailurePolicy = FailurePolicy.PANIC
    """What a bad feature file does: `panic` (every request 500, FL2 on 2025-11-18), `degrade`
    (every score 0, the old proxy), `reject` (refuse it, keep the last good one, raise an
    alert metric: the fix), `fail-open` (skip the module, traffic unprotected)."""
    feature_limit: int = Field(DEFAULT_FEATURE_LIMIT, ge=1, le=100_000)
    """Features the module preallocates room for; a file with more is bad (2025-11-18: 200)."""
    features_file: Path | None = None
    """Feature file loaded at start (version 0); None = the one shipped with edgelab."""
    rules: tuple[BotRule, ...] = ()
    """Score rules, first match wins. None by default: the score is computed and passed to the
    origin, nothing is blocked until an experiment or operator adds a rule."""
    rate_window_s: float = Field(10.0, gt=0)
    """Window of the per-client request rate signal."""
    max_clients: int = Field(100_000, gt=0)
    """Clients whose rate is tracked at once; the least recently seen is forgotten first."""
    panic_cpu_ms: float = Field(0.0, ge=0, le=1000)
    """CPU burnt by each panicking request before its 500 (`panic` policy): on 2025-11-18 the
    uncaught errors set off CPU-heavy debug and observability enrichment, which raised the
    CDN's latency. 0 = off."""
    score_header: str | None = "X-Edgelab-Bot-Score"
    """Request header that carries the score to the origin (as CDNs pass it on); None = not sent."""
