"""Pushed config on the edge side: modules register an applier per artifact kind.

    registry = ArtifactRegistry()
    registry.register("bot-features", bot_stage.apply_artifact)
    outcome = registry.apply(Artifact("bot-features", 7, b"...", checksum))  # applied | rejected | module_failed
    registry.applied   # {"bot-features": 7}

The control-plane subscriber and local files both go through `apply`, so a pushed artifact and
one loaded at start-up cannot drift. An applier swaps one reference, so a request sees the old
set or the new one, never half.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

ARTIFACT_KINDS = ("bot-features", "waf-rules", "killswitches", "edge-config")


class ArtifactOutcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"
    """Validation refused it; the last known good stays in force."""
    MODULE_FAILED = "module_failed"
    """It was taken in and the module is now failing (panic) or degraded."""


@dataclass(frozen=True)
class Artifact:
    kind: str
    version: int
    content: bytes
    checksum: str = ""

    @staticmethod
    def checksum_of(content: bytes) -> str:
        return "sha256:" + hashlib.sha256(content).hexdigest()


Applier = Callable[[Artifact], ArtifactOutcome]


class ArtifactRegistry:
    """Kind -> applier, and which version of each kind this POP runs."""

    def __init__(self) -> None:
        self._appliers: dict[str, list[Applier]] = {}
        self.applied: dict[str, int] = {}
        """Kind -> version taken in (applied, or taken in and failing)."""
        self.last_outcome: dict[str, ArtifactOutcome] = {}

    def register(self, kind: str, applier: Applier) -> None:
        self._appliers.setdefault(kind, []).append(applier)

    def kinds(self) -> list[str]:
        return sorted(self._appliers)

    def apply(self, artifact: Artifact) -> ArtifactOutcome:
        """Hand `artifact` to every applier of its kind; the worst outcome wins."""
        appliers = self._appliers.get(artifact.kind)
        if not appliers:
            outcome = ArtifactOutcome.REJECTED
        else:
            outcomes = [apply(artifact) for apply in appliers]
            order = [
                ArtifactOutcome.APPLIED,
                ArtifactOutcome.MODULE_FAILED,
                ArtifactOutcome.REJECTED,
            ]
            outcome = max(outcomes, key=order.index)
        if outcome is not ArtifactOutcome.REJECTED:
            self.applied[artifact.kind] = artifact.version
        self.last_outcome[artifact.kind] = outcome
        return outcome
