"""The edge's `control` section: where this POP subscribes for pushed artifacts.

    control:
      url: http://127.0.0.1:7000
      poll_timeout_s: 30

With this section the edge long-polls the control plane (`edgelab.edge.subscriber`); without it
the POP runs on its local files only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ControlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    """Base URL of `edgelab control`, e.g. http://127.0.0.1:7000."""
    pop: str | None = None
    """Identity this POP subscribes under; None = the edge's own `pop` name."""
    poll_timeout_s: float = Field(30.0, gt=0, le=600)
    """How long one long-poll may wait for a change before the control plane answers empty."""
    retry_s: float = Field(1.0, gt=0)
    """First wait after a failed poll; doubles up to `retry_max_s` while the plane is down."""
    retry_max_s: float = Field(5.0, gt=0)
    """Longest wait between polls while the control plane is unreachable."""
    token: str | None = None
    """Bearer token for reporting back, when the control plane listens beyond loopback."""

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        from yarl import URL

        u = URL(v)
        if u.scheme not in ("http", "https") or not u.host:
            raise ValueError(f"url must be an http://host:port URL, got {v!r}")
        return v.rstrip("/")
