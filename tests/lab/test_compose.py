"""The docker-compose lab, proved as far as possible without a Docker engine.

No engine runs here, so these tests check what can be checked: every edgelab service's command
is a valid `edgelab` invocation, every referenced file exists and parses, ports and settings
agree with the embedded lab's defaults, Prometheus scrapes every service with `/metrics`, and
the Grafana dashboard only queries metrics that our processes really export (read from a
running embedded lab). A service whose command is not in this build yet is skipped by name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import typer.main
import yaml
from prometheus_client.parser import text_string_to_metric_families

from edgelab.cli import app, main
from edgelab.config.edge import EdgeConfig
from edgelab.config.load import load_model
from edgelab.lab.model import load_lab
from edgelab.lab.supervisor import Lab, available_commands
from edgelab.origin.profile import OriginProfile
from tests.lab.conftest import requires, with_changes

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
MOUNT = "/etc/edgelab/"
"""Where docker-compose.yml mounts compose/ inside the edgelab containers."""


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
    return typer.main.get_command(app).commands[name]


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


@pytest.mark.parametrize("service", SERVICES)
def test_service_command_is_a_valid_edgelab_invocation(service: str) -> None:
    args = [str(a) for a in edgelab_services()[service]["command"]]
    name = args[0]
    if name not in available_commands():
        pytest.skip(f"edgelab {name} is not in this build yet ({service})")
    helped = subprocess.run(
        [sys.executable, "-m", "edgelab", name, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0, helped.stderr
    # and the whole argument list parses as that command's options (nothing is run)
    command = cli_command(name)
    ctx = command.make_context(name, args[1:])
    assert ctx.params["host"] == "0.0.0.0"


@pytest.mark.parametrize("service", SERVICES)
def test_service_files_exist_and_parse(service: str) -> None:
    args = [str(a) for a in edgelab_services()[service]["command"]]
    profile, config = option(args, "--profile"), option(args, "--config")
    if profile:
        load_model(local(profile), OriginProfile)
    if config:
        load_model(local(config), EdgeConfig)
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
    for name in ("locust-master", "locust-worker"):
        command = compose()["services"][name]["command"]
        locustfile = option(command, "-f")
        assert locustfile == "/mnt/edgelab/loadtests/locustfile.py", name


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
            scraped |= {tuple(t.split(":")) for t in static["targets"]}  # type: ignore[misc]
        for dns in job.get("dns_sd_configs", []):
            scraped |= {(name, str(dns["port"])) for name in dns["names"]}
    expected = {("toxiproxy", "8474")}
    for service, svc in edgelab_services().items():
        args = [str(a) for a in svc["command"]]
        metrics_port = option(args, "--admin-port") or option(args, "--port")
        expected.add((service, str(metrics_port)))
    assert expected <= scraped
    assert "-proxy-metrics" in compose()["services"]["toxiproxy"]["command"]


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "edgelab.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\b(edgelab_[a-z0-9_]+)", expr)}


def exported_names(text: str) -> set[str]:
    """Sample names a /metrics text declares, with the suffixes its types imply."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("_sum", "_count", "_created"),
        "gauge": ("",),
        "info": ("_info",),
    }
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
        names |= {s.name for s in family.samples}
    return names


@requires("control")
@requires("toxiproxy")
async def test_dashboard_queries_name_exported_metrics(small_lab: Path, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["toxiproxy"] = {}
        data["control"] = {}

    lab = Lab.from_file(with_changes(small_lab, change), run_dir=tmp_path / "run")
    exported: set[str] = set()
    async with lab, aiohttp.ClientSession() as http:
        async with http.get(lab.state.endpoints.cdns["a"][0] + "/static/app.js") as resp:
            assert resp.status == 200
        for ps in lab.state.processes.values():
            base = ps.addresses.get("admin") or next(iter(ps.addresses.values()))
            async with http.get(base + "/metrics") as resp:
                assert resp.status == 200, ps.name
                exported |= exported_names(await resp.text())
    wanted = dashboard_metric_names()
    assert {"edgelab_edge_requests_total", "edgelab_origin_shed_total"} <= wanted
    assert wanted <= exported, sorted(wanted - exported)


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
