"""The subscriber's handling of one poll answer (the loop itself runs in the integration tests)."""

from __future__ import annotations

import base64

from prometheus_client import CollectorRegistry

from edgelab.config.control import ControlOptions
from edgelab.edge.artifacts import Artifact, ArtifactOutcome, ArtifactRegistry
from edgelab.edge.subscriber import Subscriber


def item(kind: str, version: int, content: bytes, checksum: str | None = None) -> dict[str, object]:
    return {
        "kind": kind,
        "version": version,
        "checksum": checksum if checksum is not None else Artifact.checksum_of(content),
        "content_b64": base64.b64encode(content).decode(),
    }


def subscriber() -> tuple[Subscriber, list[Artifact]]:
    seen: list[Artifact] = []
    registry = ArtifactRegistry()

    def applier(a: Artifact) -> ArtifactOutcome:
        seen.append(a)
        return ArtifactOutcome.APPLIED

    registry.register("waf-rules", applier)
    sub = Subscriber(
        ControlOptions(url="http://127.0.0.1:9/"), "ams", registry, CollectorRegistry()
    )
    return sub, seen


def test_a_good_artifact_is_applied_and_remembered() -> None:
    sub, seen = subscriber()
    assert sub.options.url == "http://127.0.0.1:9"
    report = sub._apply(item("waf-rules", 4, b"rules: []"))
    assert report == {"kind": "waf-rules", "version": 4, "outcome": "applied", "detail": ""}
    assert [a.version for a in seen] == [4] and sub.seen == {"waf-rules": 4}


def test_a_corrupted_artifact_is_refused_before_any_module_sees_it() -> None:
    sub, seen = subscriber()
    report = sub._apply(item("waf-rules", 5, b"rules: []", checksum="sha256:00"))
    assert report["outcome"] == "rejected" and report["detail"] == "checksum mismatch"
    bad_b64 = {**item("waf-rules", 6, b"x"), "content_b64": "%%"}
    assert sub._apply(bad_b64)["detail"] == "content is not valid base64"
    assert seen == [] and sub.seen == {"waf-rules": 6}


def test_a_kind_nobody_handles_is_rejected() -> None:
    sub, _ = subscriber()
    assert sub._apply(item("edge-config", 1, b"{}"))["outcome"] == "rejected"
