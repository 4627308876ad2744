"""Versioned artifacts by kind, with history, kept in a state directory across restarts.

    store = ArtifactStore(Path("state"))             # loads what a previous run left there
    v = store.push("bot-features", content, author="api", target=ALL, known_pops=["ams"])
    store.latest("bot-features").version             # 1, 2, ... per kind, never reused
    store.history("bot-features")                    # oldest first
    store.desired("bot-features", "ams")             # the newest version that reaches "ams"

Each version is one JSON file `<state_dir>/<kind>/<version:08d>.json` (metadata plus the content
in base64), written to a temporary name and renamed, so a crash never leaves half a version. A
restarted control plane reads them back and resumes at the same versions. Without a state
directory everything lives in memory. A rollback is a new version whose content is an earlier
one's (`rollback_of`), so every POP's version only ever moves forward.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelab.controlplane.rollout import ALL, Target, desired_for, includes, resolve
from edgelab.edge.artifacts import ARTIFACT_KINDS, Artifact
from edgelab.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArtifactVersion:
    kind: str
    version: int
    content: bytes = field(repr=False)
    checksum: str
    author: str
    """Who or what made it: `api`, `generator:<name>`, `rollback`, `killswitch`..."""
    created_at: float
    """Epoch seconds."""
    note: str = ""
    target: Target = Target()
    selected: tuple[str, ...] | None = None
    """POPs chosen at push time; None = all."""
    considered: tuple[str, ...] = ()
    """POPs known at push time (a fraction was taken of these)."""
    rollback_of: int | None = None
    mutation: str | None = None
    """The named bad mutation applied to make it, if any (a generator's bad run, or a push)."""

    @property
    def salt(self) -> str:
        return f"{self.kind}:{self.version}"

    def reaches(self, pop: str) -> bool:
        return includes(self.target, self.selected, self.considered, pop, self.salt)

    def artifact(self) -> Artifact:
        return Artifact(self.kind, self.version, self.content, self.checksum)

    def meta(self) -> dict[str, Any]:
        """JSON-ready metadata (no content)."""
        return {
            "kind": self.kind,
            "version": self.version,
            "checksum": self.checksum,
            "size": len(self.content),
            "author": self.author,
            "created_at": self.created_at,
            "note": self.note,
            "target": {"fraction": self.target.fraction, "pops": self.target.pops},
            "selected": list(self.selected) if self.selected is not None else None,
            "rollback_of": self.rollback_of,
            "mutation": self.mutation,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.meta(),
            "considered": list(self.considered),
            "content_b64": base64.b64encode(self.content).decode(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ArtifactVersion:
        t = d.get("target") or {}
        pops = t.get("pops")
        selected = d.get("selected")
        return cls(
            kind=d["kind"],
            version=int(d["version"]),
            content=base64.b64decode(d["content_b64"]),
            checksum=d["checksum"],
            author=d.get("author", ""),
            created_at=float(d["created_at"]),
            note=d.get("note", ""),
            target=Target(t.get("fraction"), tuple(pops) if pops is not None else None),
            selected=tuple(selected) if selected is not None else None,
            considered=tuple(d.get("considered", ())),
            rollback_of=d.get("rollback_of"),
            mutation=d.get("mutation"),
        )


class UnknownKind(KeyError):
    pass


class ArtifactStore:
    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = state_dir
        self._versions: dict[str, list[ArtifactVersion]] = {k: [] for k in ARTIFACT_KINDS}
        if state_dir is not None:
            self._load(state_dir)

    def _load(self, state_dir: Path) -> None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--state-dir {state_dir}: cannot create: {e.strerror}") from e
        for kind in ARTIFACT_KINDS:
            folder = state_dir / kind
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                try:
                    v = ArtifactVersion.from_json(json.loads(path.read_text("utf-8")))
                except (OSError, ValueError, KeyError, TypeError) as e:
                    raise ConfigError(f"{path}: unreadable artifact version: {e}") from e
                self._versions[kind].append(v)
            self._versions[kind].sort(key=lambda v: v.version)
        loaded = {k: len(v) for k, v in self._versions.items() if v}
        if loaded:
            logger.info("state %s: loaded %s", state_dir, loaded)

    def _check(self, kind: str) -> list[ArtifactVersion]:
        versions = self._versions.get(kind)
        if versions is None:
            raise UnknownKind(kind)
        return versions

    def kinds(self) -> tuple[str, ...]:
        return ARTIFACT_KINDS

    def history(self, kind: str) -> list[ArtifactVersion]:
        return list(self._check(kind))

    def latest(self, kind: str) -> ArtifactVersion | None:
        versions = self._check(kind)
        return versions[-1] if versions else None

    def get(self, kind: str, version: int) -> ArtifactVersion | None:
        versions = self._check(kind)
        # Versions are dense from 1 unless files were removed by hand; try the index first.
        if 0 < version <= len(versions) and versions[version - 1].version == version:
            return versions[version - 1]
        return next((v for v in versions if v.version == version), None)

    def desired(self, kind: str, pop: str) -> ArtifactVersion | None:
        return desired_for(self._check(kind), pop)

    def push(
        self,
        kind: str,
        content: bytes,
        *,
        author: str,
        note: str = "",
        target: Target = ALL,
        known_pops: Iterable[str] = (),
        rollback_of: int | None = None,
        mutation: str | None = None,
        now: float | None = None,
    ) -> ArtifactVersion:
        """Store `content` as the next version of `kind` (and on disk); raises UnknownKind."""
        versions = self._check(kind)
        number = versions[-1].version + 1 if versions else 1
        considered = tuple(sorted(set(known_pops)))
        v = ArtifactVersion(
            kind=kind,
            version=number,
            content=content,
            checksum=Artifact.checksum_of(content),
            author=author,
            created_at=time.time() if now is None else now,
            note=note,
            target=target,
            selected=resolve(target, considered, f"{kind}:{number}"),
            considered=considered,
            rollback_of=rollback_of,
            mutation=mutation,
        )
        if self.state_dir is not None:
            self._write(v)
        versions.append(v)
        return v

    def _write(self, v: ArtifactVersion) -> None:
        assert self.state_dir is not None
        folder = self.state_dir / v.kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{v.version:08d}.json"
        tmp = path.with_suffix(".tmp")
        # Write then rename: a killed process never leaves half a version. (No fsync: the lab
        # guards against crashes, not power loss, and a push stays in the millisecond range.)
        tmp.write_text(json.dumps(v.to_json()), encoding="utf-8")
        tmp.replace(path)
