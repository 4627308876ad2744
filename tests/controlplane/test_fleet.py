from __future__ import annotations

from dataclasses import dataclass

from edgelab.controlplane.fleet import Fleet


@dataclass
class V:
    kind: str = "bot-features"
    version: int = 3
    created_at: float = 100.0

    def reaches(self, pop: str) -> bool:
        return True


def test_reports_propagation_and_offline_pops() -> None:
    fleet = Fleet()
    fleet.polled("ams", "127.0.0.1", {"bot-features": 2}, now=100.0)
    fleet.polled("fra", "127.0.0.1", {}, now=100.0)
    fleet.polled("gone", "127.0.0.1", {}, now=10.0)
    status = fleet.propagation(V(), now=100.0)
    assert status["targets"] == ["ams", "fra"] and status["offline"] == ["gone"]
    assert status["pending"] == ["ams", "fra"] and not status["complete"]

    fleet.report("ams", "bot-features", 3, "applied", "", created_at=100.0, now=100.05)
    fleet.report("fra", "bot-features", 3, "rejected", "limit", created_at=100.0, now=100.2)
    status = fleet.propagation(V(), now=100.3)
    assert status["complete"] and status["outcomes"] == {"applied": 1, "rejected": 1}
    assert status["lag_all_s"] == 0.2
    # A rejected version is not what the POP runs; the version it had is.
    assert fleet.pops["ams"].running["bot-features"].version == 3
    assert "bot-features" not in fleet.pops["fra"].running
    assert fleet.pops["fra"].last_report["bot-features"].outcome == "rejected"
    assert fleet.behind("bot-features", {"ams": 3, "fra": 3, "gone": 3}) == 1
