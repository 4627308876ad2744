from __future__ import annotations

from pathlib import Path

import pytest

from edgelab.controlplane.rollout import Target
from edgelab.controlplane.store import ArtifactStore, UnknownKind
from edgelab.errors import ConfigError


def test_versions_count_up_per_kind_and_history_is_kept() -> None:
    store = ArtifactStore()
    assert store.latest("bot-features") is None
    a = store.push("bot-features", b"a", author="alice", now=100.0)
    b = store.push("bot-features", b"b", author="gen", target=Target(pops=("fra",)))
    k = store.push("killswitches", b"{}", author="bob")
    assert (a.version, b.version, k.version) == (1, 2, 1)
    assert [v.content for v in store.history("bot-features")] == [b"a", b"b"]
    assert store.get("bot-features", 2) == b and store.get("bot-features", 3) is None
    assert a.checksum.startswith("sha256:") and a.created_at == 100.0 and a.author == "alice"
    assert store.desired("bot-features", "fra") == b
    assert store.desired("bot-features", "ams") == a
    with pytest.raises(UnknownKind):
        store.push("cat-pictures", b"", author="x")


def test_a_restarted_store_resumes_at_the_same_versions(tmp_path: Path) -> None:
    first = ArtifactStore(tmp_path)
    first.push("bot-features", b"one", author="a")
    v2 = first.push(
        "bot-features",
        b"\x00two",
        author="b",
        target=Target(fraction=0.5),
        known_pops=["ams", "fra"],
        mutation="truncate",
    )
    again = ArtifactStore(tmp_path)
    assert again.history("bot-features") == first.history("bot-features")
    assert again.latest("bot-features") == v2
    assert again.push("bot-features", b"three", author="c", rollback_of=1).version == 3
    assert ArtifactStore(tmp_path).get("bot-features", 3).rollback_of == 1  # type: ignore[union-attr]


def test_an_unreadable_state_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bot-features").mkdir()
    bad = tmp_path / "bot-features" / "00000001.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="00000001.json: unreadable artifact version"):
        ArtifactStore(tmp_path)
