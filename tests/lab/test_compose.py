"""The docker-compose lab, proved as far as possible without a Docker engine.

No engine runs here, so these tests check what can be checked: every edgelab service's command
is a valid `edgelab` invocation, every referenced file exists and parses, ports and settings
agree with the embedded lab's defaults, Prometheus scrapes every service with `/metrics`, and
the Grafana dashboard only queries metrics that our processes really export (read from a
running embedded lab). A service whose command is not in this build yet is skipped by name. That the dashboard's
metrics are really exported is checked against a running lab in test_supervisor.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from edgelab.cli import app, main
from edgelab.config.edge import EdgeConfig
from edgelab.config.load import load_model
from edgelab.lab.model import load_lab
from edgelab.lab.supervisor import available_commands
from edgelab.origin.profile import OriginProfile

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
MOUNT = "/etc/edgelab/"
"""Where docker-compose.yml mounts compose/ inside the edgelab containers."""


def dashboard_metric_names() -> set[str]:
    """Every `edgelab_*` and `toxiproxy_*` metric the provisioned Grafana dashboard queries."""
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "edgelab.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    return {
        name for expr in exprs for name in re.findall(r"\b((?:edgelab|toxiproxy)_[a-z0-9_]+)", expr)
    }


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    return data


def edgelab_services() -> dict[str, dict[str, Any]]:
    """Services that run the edgelab image (the YAML anchors are already merged)."""
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("build", {}).get("dockerfile") == "compose/Dockerfile"
    }


def cli_command(name: str) -> Any:
    """The click command behind `edgelab <name>` (typer's own click flavour)."""
    group: Any = typer.main.get_command(app)
    return group.commands[name]


def option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def local(path: str) -> Path:
    """The repository file behind a path inside a container."""
    assert path.startswith(MOUNT), path
    return COMPOSE / path.removeprefix(MOUNT)


SERVICES = sorted(edgelab_services())


def test_compose_has_the_lab() -> None:
    services = compose()["services"]
    assert {"origin", "control", "edge-a", "edge-b", "toxiproxy", "steering"} <= set(services)
    assert services["toxiproxy"]["image"].startswith("ghcr.io/shopify/toxiproxy:")
    assert services["locust-master"]["build"]["dockerfile"] == "compose/Dockerfile.locust"
    assert "locustio/locust" in (COMPOSE / "Dockerfile.locust").read_text()
    assert services["prometheus"]["profiles"] == ["observability"]
    assert services["grafana"]["profiles"] == ["observability"]
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER edgelab" in dockerfile and "HEALTHCHECK" in dockerfile


def test_every_service_command_has_help() -> None:
    """`python -m edgelab <command> --help` runs for every command the services use."""
    commands = sorted({str(svc["command"][0]) for svc in edgelab_services().values()})
    present = [c for c in commands if c in available_commands()]
    helps = {
        c: subprocess.Popen(
            [sys.executable, "-m", "edgelab", c, "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in present
    }
    for command, proc in helps.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "Usage:" in out, (command, err)
    missing = sorted(set(commands) - set(present))
    if missing:
        pytest.skip(f"not in this build yet: {', '.join('edgelab ' + c for c in missing)}")


@pytest.mark.parametrize("service", SERVICES)
def test_service_command_parses(service: str) -> None:
    """The service's whole argument list parses as its command's options (nothing runs)."""
    args = [str(a) for a in edgelab_services()[service]["command"]]
    name = args[0]
    if name not in available_commands():
        pytest.skip(f"edgelab {name} is not in this build yet ({service})")
    ctx = cli_command(name).make_context(name, args[1:])
    assert ctx.params["host"] == "0.0.0.0"


@pytest.mark.parametrize("service", SERVICES)
def test_service_files_exist_and_parse(service: str) -> None:
    args = [str(a) for a in edgelab_services()[service]["command"]]
    profile, config = option(args, "--profile"), option(args, "--config")
    if profile:
        load_model(local(profile), OriginProfile)
    if config:
        # each command's --config is its own kind of file: steering's, or an edge config
        from edgelab.steering.config import SteeringConfig

        load_model(local(config), SteeringConfig if args[0] == "steer" else EdgeConfig)
    for volume in edgelab_services()[service].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (COMPOSE / source).exists(), volume


def test_referenced_files_exist() -> None:
    loadtests = (ROOT / "loadtests" / "locustfile.py").exists()
    for name, svc in compose()["services"].items():
        build = svc.get("build")
        if build:
            assert (COMPOSE / build["context"] / build["dockerfile"]).is_file(), name
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and (loadtests or source != "../loadtests"):
                assert (COMPOSE / source).exists(), f"{name}: {volume}"
    if not loadtests:
        pytest.skip("loadtests/locustfile.py is not in this build yet (Locust services)")
    from edgelab.loadgen.targets import load_targets

    for name in ("locust-master", "locust-worker"):
        command = compose()["services"][name]["command"]
        locustfile = option(command, "-f")
        assert locustfile == "/mnt/edgelab/loadtests/locustfile.py", name
        targets = load_targets(local(option(command, "--edgelab-targets") or ""))
        assert targets.cdn_a == ["http://edge-a:8000"]


def test_ports_and_settings_agree_with_the_embedded_lab() -> None:
    lab = load_lab(None)
    services = edgelab_services()
    available = available_commands()
    for service, svc in services.items():
        args = [str(a) for a in svc["command"]]
        if args[0] not in available:
            continue
        # the port is the command's own default, as in the README's examples
        default_port = next(p.default for p in cli_command(args[0]).params if p.name == "port")
        assert option(args, "--port") == str(default_port), service
        health = svc["environment"]["EDGELAB_HEALTH_URL"]
        health_port = option(args, "--admin-port") if args[0] == "edge" else str(default_port)
        assert health == f"http://127.0.0.1:{health_port}/healthz", service

    profile = load_model(COMPOSE / "origin.yaml", OriginProfile)
    assert profile == lab.origins[0].profile.model_copy(update={"name": lab.origins[0].name})

    populate = json.loads((COMPOSE / "toxiproxy.json").read_text())
    links = {p["name"]: p for p in populate}
    assert links["origin-direct"]["upstream"] == "origin:8080"
    token = services["control"]["environment"]["EDGELAB_CONTROL_TOKEN"]
    for cdn in lab.cdns:
        svc = services[f"edge-{cdn.name}"]
        assert svc["deploy"]["replicas"] == cdn.pops
        config = load_model(local(option(svc["command"], "--config") or ""), EdgeConfig)
        assert config.cdn == f"cdn-{cdn.name}"
        link = links[f"edge-{cdn.name}-origin"]
        assert link["upstream"] == "origin:8080"
        assert config.origin == "http://toxiproxy:" + link["listen"].rsplit(":", 1)[1]
        assert config.control is not None and config.control.url == "http://control:7000"
        assert f":-{config.control.token}}}" in token
        # everything else is the embedded lab's edge config for that CDN
        mine = config.model_dump(exclude={"pop", "cdn", "origin", "control"})
        assert mine == cdn.edge.model_dump(exclude={"pop", "cdn", "origin", "control"})

    targets = json.loads((COMPOSE / "targets.json").read_text())
    assert targets["origin"] == "http://toxiproxy:" + links["origin-direct"]["listen"].split(":")[1]
    assert targets["cdn-a"] == ["http://edge-a:8000"] and targets["cdn-b"] == ["http://edge-b:8000"]


def test_toxiproxy_config_is_valid_for_our_toxiproxy_too() -> None:
    from edgelab.faultproxy.collection import parse_populate

    parsed = parse_populate(json.loads((COMPOSE / "toxiproxy.json").read_text()))
    assert len(parsed) == 3


def test_prometheus_scrapes_every_service_with_metrics() -> None:
    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    scraped: set[tuple[str, str]] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            scraped |= {(t.split(":")[0], t.split(":")[1]) for t in static["targets"]}
        for dns in job.get("dns_sd_configs", []):
            scraped |= {(name, str(dns["port"])) for name in dns["names"]}
    expected = {("toxiproxy", "8474")}
    for service, svc in edgelab_services().items():
        args = [str(a) for a in svc["command"]]
        metrics_port = option(args, "--admin-port") or option(args, "--port")
        expected.add((service, str(metrics_port)))
    assert expected <= scraped
    assert "-proxy-metrics" in compose()["services"]["toxiproxy"]["command"]


def test_dashboard_names_metrics() -> None:
    """Its queries name our metrics (that the processes export them is checked against a
    running lab in test_supervisor.py::test_full_topology)."""
    wanted = dashboard_metric_names()
    assert {
        "edgelab_edge_requests_total",
        "edgelab_origin_shed_total",
        "toxiproxy_proxy_sent_bytes_total",
    } <= wanted


def test_compose_up_without_an_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as e:
        main(["lab", "up", "--compose"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("edgelab: error: --compose: no Docker engine reachable")
    assert err.count("\n") == 1
