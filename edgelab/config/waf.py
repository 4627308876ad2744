"""The `waf` section of the edge config: mode, paranoia, regex engine, failure policy, limits.

waf:
  mode: block            # off | log | block
  paranoia_level: 1      # 1 (few false positives) .. 2 (more detection)
  regex_engine: re2      # re (backtracking, the 2019 behaviour) | re2 (linear time)
  failure_policy: reject # panic | degrade | reject | fail-open
  inspect_body_bytes: 131072
  worker_body_bytes: 16384  # bodies this long are inspected off the event loop (0: never)
  rules_file: null       # null = the managed ruleset shipped with edgelab
  exclusions:            # per-site rule exclusions (edgelab.policy.waf.exclusions)
    - rules: [941100]
      tags: [rce]
      path_prefix: /community/posts
      methods: [POST]
      targets: ["args:body"]
      note: forum posts quote code

config = EdgeConfig.model_validate({"waf": {"mode": "log"}})
config.waf.regex_engine   # "re2"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from edgelab.errors import ConfigError
from edgelab.policy.failure import FailurePolicy
from edgelab.policy.waf.exclusions import Exclusion, check_known


class WafOptions(BaseModel):
    """How this POP's WAF runs; rulesets and killswitches arrive separately (artifacts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["off", "log", "block"] = "block"
    """`block` answers 403 on a blocking match; `log` evaluates every rule (the 2019 rule was in
    "simulate" mode and still burned the CPU) but never blocks; `off` skips the WAF entirely."""
    paranoia_level: int = Field(1, ge=1, le=2)
    """Rules above this level are skipped: 1 is the low-false-positive default, 2 adds rules
    that catch more evasions and flag more benign traffic (OWASP CRS's trade-off)."""
    regex_engine: Literal["re", "re2"] = "re2"
    """`re2` (linear time, the fix announced after 2019-07-02) by default; `re` is Python's
    backtracking engine, where a catastrophic rule stalls the whole process as PCRE did."""
    failure_policy: FailurePolicy = FailurePolicy.REJECT
    """What bad pushed WAF config does (see `edgelab.edge.stages.waf`): `reject` (the hardened
    fix) keeps the last known good; incident replays set `panic` (the 2025-12-05 path)."""
    inspect_body_bytes: int = Field(128 * 1024, ge=0)
    """Request body bytes buffered for body-phase rules; the rest streams to the origin
    uninspected. 128 KiB was Cloudflare's buffer before the 2025-12-05 change to 1 MiB."""
    worker_body_bytes: int = Field(16 * 1024, ge=0)
    """Bodies of this many bytes or more have their body-phase rules run in the WAF's worker
    thread instead of on the event loop, so other clients are served meanwhile (RE2 releases
    the GIL while it scans: 64 KiB of attack fragments take ~30 ms of CPU); the request waits
    for its verdict as before. 0: every body is inspected on the event loop."""
    anomaly_threshold: int = Field(5, ge=1)
    """Inbound anomaly score at which scoring rules block (OWASP CRS default: one critical)."""
    rules_file: Path | None = None
    """A ruleset document (TOML or JSON) or a directory of class files to start with; `None`
    loads the managed ruleset shipped in `edgelab/policy/waf/rulesets/`."""
    exclusions: tuple[Exclusion, ...] = ()
    """Per-site rule exclusions: rules (by id or tag) taken off, or some values hidden from
    them, for requests matching a path prefix, methods and hosts (ModSecurity's
    `ctl:ruleRemoveTargetById`, a CDN's WAF exceptions). Empty (the default): the whole
    ruleset inspects every request. Ids and tags must exist in the ruleset in force at load
    (the shipped one or `rules_file`); a pushed `waf-rules` document may carry its own."""

    @field_validator("exclusions")
    @classmethod
    def _exclusions_known(
        cls, exclusions: tuple[Exclusion, ...], info: ValidationInfo
    ) -> tuple[Exclusion, ...]:
        if not exclusions:
            return exclusions
        from edgelab.policy.waf.rules import load_default_ruleset, load_ruleset

        rules_file = info.data.get("rules_file")
        try:
            ruleset = load_default_ruleset() if rules_file is None else load_ruleset(rules_file)
        except ConfigError:
            return exclusions  # the rules file's own error is reported where it is loaded
        try:
            check_known(exclusions, ruleset, "")
        except ValueError as e:  # named as `waf.exclusions: 0.rules: unknown rule id 942999`
            raise PydanticCustomError("unknown_rule", "{why}", {"why": str(e)}) from e
        return exclusions
