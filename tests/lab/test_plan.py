"""Lab file -> process specs, argv and links: pure, no processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgelab.config.edge import EdgeConfig
from edgelab.lab import plan
from edgelab.lab.model import LabFile, Restart, Supervision, load_lab


def test_argv_has_ports_and_port_file() -> None:
    spec = plan.origin_spec(load_lab(None).origins[0])
    line = plan.argv(spec, "/py", Path("/run/ports/origin.json"))
    assert line[:4] == ["/py", "-m", "edgelab", "origin"]
    assert line[-6:] == [
        "--port",
        "0",
        "--admin-port",
        "0",
        "--port-file",
        "/run/ports/origin.json",
    ]
    restarted = plan.argv(spec, "/py", Path("p.json"), {"http": 41000})
    assert restarted[restarted.index("--port") + 1] == "41000"


def test_edge_spec_config_file() -> None:
    lab = LabFile.model_validate(
        {"cdns": [{"name": "b", "pops": 3, "base_port": 9000, "edge": {"pop": "ignored"}}]}
    )
    spec = plan.edge_spec(lab.cdns[0], 2, "http://127.0.0.1:5000", None)
    assert spec.name == "edge-b-2" and spec.role == "edge"
    assert spec.listeners["proxy"].port == 9002 and spec.listeners["admin"].port == 9003
    (content,) = spec.files.values()
    config = EdgeConfig.model_validate(yaml.safe_load(content))
    assert (config.pop, config.cdn, config.origin) == ("edge-b-2", "cdn-b", "http://127.0.0.1:5000")


def test_links_default_lab() -> None:
    links = plan.links(load_lab(None), external_origin=False)
    assert [(link.name, link.kind, link.target) for link in links] == [
        ("edge-a-1-origin", "origin", "origin"),
        ("edge-a-2-origin", "origin", "origin"),
        ("edge-b-1-origin", "origin", "origin"),
        ("origin-direct", "direct", "origin"),
    ]
    assert all(link.listen_port == 0 for link in links)


def test_links_clients_external_fixed_ports() -> None:
    lab = LabFile.model_validate(
        {"toxiproxy": {"links": {"clients": True, "direct": False, "base_port": 7000}}}
    )
    links = plan.links(lab, external_origin=True)
    assert [(link.name, link.target, link.listen_port) for link in links] == [
        ("edge-a-1-origin", "external", 7000),
        ("client-edge-a-1", "edge-a-1", 7001),
    ]


@pytest.mark.parametrize(
    ("policy", "code", "restarts", "expected"),
    [
        (Restart.never, 1, 0, False),
        (Restart.on_failure, 1, 0, True),
        (Restart.on_failure, -9, 2, True),
        (Restart.on_failure, 0, 0, False),
        (Restart.on_failure, 1, 3, False),
        (Restart.always, 0, 0, True),
    ],
)
def test_should_restart(policy: Restart, code: int, restarts: int, expected: bool) -> None:
    sup = Supervision(restart=policy, max_restarts=3)
    assert plan.should_restart(sup, code, restarts) is expected


def test_steering_spec_targets() -> None:
    spec = plan.steering_spec(
        load_lab(None),
        [("cdn-a", ["http://a1", "http://a2"]), ("cdn-b", ["http://b1"]), ("origin", ["http://o"])],
    )
    assert spec.command == "steer"
    assert list(spec.args) == ["--config", "config/steering.yaml"]
    config = yaml.safe_load(spec.files["config/steering.yaml"])
    assert config["ttl_s"] == 5 and config["health"] == {"interval_s": 1}
    # multi-CDN: A, then B, then the origin; DNS failover: A, then straight to the origin
    assert [t["name"] for t in config["services"]["www"]] == ["cdn-a", "cdn-b", "origin"]
    assert config["services"]["failover"] == [
        {"name": "cdn-a", "urls": ["http://a1", "http://a2"]},
        {"name": "origin", "urls": ["http://o"]},
    ]
    from edgelab.steering.config import SteeringConfig

    SteeringConfig.model_validate(config)
