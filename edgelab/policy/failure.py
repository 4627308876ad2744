"""What a module that reads pushed config does when that config is bad (DESIGN.md).

    policy = FailurePolicy.PANIC
    policy.on_bad_artifact()   # -> ArtifactOutcome the ingestion reports

- `panic`: bad input raises inside the module; every request through it gets 500 (2025-11-18, FL2).
- `degrade`: the module keeps running with a broken result (the old proxy: every bot score 0).
- `reject`: ingestion validates, refuses the artifact, keeps the last known good, counts it.
- `fail-open`: the module is skipped on error; traffic flows without its protection.
"""

from __future__ import annotations

from enum import StrEnum


class FailurePolicy(StrEnum):
    PANIC = "panic"
    DEGRADE = "degrade"
    REJECT = "reject"
    FAIL_OPEN = "fail-open"


class ModulePanic(RuntimeError):
    """Raised inside a module under the `panic` policy; the pipeline answers 500."""
