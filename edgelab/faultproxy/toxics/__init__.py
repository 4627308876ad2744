"""Every toxic type by its Toxiproxy name: adding a toxic is adding a file and a line here.

    cls = TOXICS["latency"]; toxic = cls(latency=100)

Names and attributes are Toxiproxy's (`toxics/*.go`), so its clients and config files work.
"""

from __future__ import annotations

from typing import Any

from edgelab.faultproxy.toxics.bandwidth import BandwidthToxic
from edgelab.faultproxy.toxics.base import Toxic, ToxicSpec, ToxicStub, registry_check
from edgelab.faultproxy.toxics.latency import LatencyToxic
from edgelab.faultproxy.toxics.limit_data import LimitDataToxic
from edgelab.faultproxy.toxics.noop import NoopToxic
from edgelab.faultproxy.toxics.packet_loss import PacketLossToxic
from edgelab.faultproxy.toxics.reset_peer import ResetPeerToxic
from edgelab.faultproxy.toxics.slicer import SlicerToxic
from edgelab.faultproxy.toxics.slow_close import SlowCloseToxic
from edgelab.faultproxy.toxics.timeout import TimeoutToxic

TOXICS: dict[str, type[Any]] = {
    "noop": NoopToxic,
    "latency": LatencyToxic,
    "bandwidth": BandwidthToxic,
    "slow_close": SlowCloseToxic,
    "timeout": TimeoutToxic,
    "reset_peer": ResetPeerToxic,
    "slicer": SlicerToxic,
    "limit_data": LimitDataToxic,
    "packet_loss": PacketLossToxic,
}
registry_check(TOXICS)

__all__ = ["TOXICS", "Toxic", "ToxicSpec", "ToxicStub"]
