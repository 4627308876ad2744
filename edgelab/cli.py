"""The `edgelab` command: parse flags, load config, set up logging, call one library function.

Every `EdgelabError` becomes one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from edgelab import __version__
from edgelab.errors import ConfigError, EdgelabError

app = typer.Typer(
    name="edgelab",
    help="Rehearse the day your CDN fails: edge, origin, faults, surges and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogLevelOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")]
LogFormatOpt = Annotated[
    LogFormat, typer.Option("--log-format", help="text for people, json for log shippers.")
]
HostOpt = Annotated[
    str, typer.Option("--host", help="Address to listen on (loopback unless you ask).")
]
AdminHostOpt = Annotated[str, typer.Option("--admin-host", help="Admin listener address.")]
AdminPortOpt = Annotated[
    int | None,
    typer.Option(
        "--admin-port", help="Admin port (default: --port + 1, or any free port with --port 0)."
    ),
]
AdminTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        envvar="EDGELAB_ADMIN_TOKEN",
        help="Bearer token for state-changing admin calls (required beyond loopback).",
    ),
]
PortFileOpt = Annotated[
    Path | None,
    typer.Option("--port-file", help="Write the bound addresses as JSON here once listening."),
]


def _setup_logging(level: str, fmt: LogFormat) -> None:
    from edgelab.logs import configure_logging

    if level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level: unknown level {level!r} (debug, info, warning, error)")
    configure_logging(level, fmt.value)


def _admin_port(port: int, admin_port: int | None) -> int:
    """The admin port: as given, else the next one after a fixed --port, else ephemeral."""
    if admin_port is not None:
        return admin_port
    return port + 1 if port else 0


def _overlay(model: Any, section: str, **values: Any) -> Any:
    """A copy of `model` with `section`'s fields replaced by the flags that were given."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return model
    from edgelab.config.load import parse_model

    data = model.model_dump()
    data[section] = {**data[section], **given}
    return parse_model(data, type(model), "flags")


@app.command()
def origin(
    profile: Annotated[Path | None, typer.Option("--profile", help="Origin profile YAML.")] = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 = any free port).")] = 8080,
    workers: Annotated[int | None, typer.Option("--workers", help="Concurrent workers.")] = None,
    queue: Annotated[
        int | None, typer.Option("--queue", help="Requests that may wait for a worker.")
    ] = None,
    queue_timeout_s: Annotated[
        float | None, typer.Option("--queue-timeout", help="Seconds a request may wait.")
    ] = None,
    admin_host: AdminHostOpt = "127.0.0.1",
    admin_port: AdminPortOpt = None,
    admin_token: AdminTokenOpt = None,
    port_file: PortFileOpt = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run the simulated origin: the site behind the CDN, with a capacity model."""
    from edgelab.config.load import load_model
    from edgelab.origin.profile import OriginProfile
    from edgelab.origin.server import OriginServer
    from edgelab.serving import run_service

    _setup_logging(log_level, log_format)
    model = load_model(profile, OriginProfile) if profile else OriginProfile()
    model = _overlay(
        model, "capacity", workers=workers, queue=queue, queue_timeout_s=queue_timeout_s
    )
    server = OriginServer(
        model,
        host=host,
        port=port,
        admin_host=admin_host,
        admin_port=_admin_port(port, admin_port),
        admin_token=admin_token,
    )
    run_service(server, "origin", port_file)


@app.command()
def edge(
    config: Annotated[Path | None, typer.Option("--config", help="Edge config YAML.")] = None,
    origin_url: Annotated[
        str | None, typer.Option("--origin", help="Origin URL, e.g. http://127.0.0.1:8080.")
    ] = None,
    pop: Annotated[str | None, typer.Option("--pop", help="This POP's name.")] = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Proxy port (0 = any free port).")] = 8000,
    admin_host: AdminHostOpt = "127.0.0.1",
    admin_port: AdminPortOpt = None,
    admin_token: AdminTokenOpt = None,
    port_file: PortFileOpt = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run one CDN POP: a reverse proxy to --origin, with a separate admin port."""
    from edgelab.config.edge import EdgeConfig
    from edgelab.config.load import load_model, parse_model
    from edgelab.edge.server import EdgeServer
    from edgelab.serving import run_service

    _setup_logging(log_level, log_format)
    model = load_model(config, EdgeConfig) if config else EdgeConfig()
    given = {k: v for k, v in {"origin": origin_url, "pop": pop}.items() if v is not None}
    if given:
        model = parse_model({**model.model_dump(), **given}, EdgeConfig, "flags")
    run_service(
        EdgeServer(
            model,
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=_admin_port(port, admin_port),
            admin_token=admin_token,
        ),
        "edge",
        port_file,
    )


def _register_subcommands() -> None:
    from edgelab.chaos.cli import chaos_app
    from edgelab.lab.commands import lab_app

    app.add_typer(chaos_app, name="chaos")
    app.add_typer(lab_app, name="lab")


_register_subcommands()


@app.command()
def control(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="API port (0 = any free port).")] = 7000,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="Keep artifact versions here across restarts."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="EDGELAB_CONTROL_TOKEN",
            help="Bearer token for state-changing calls (required beyond loopback).",
        ),
    ] = None,
    port_file: PortFileOpt = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run the control plane: versioned artifacts pushed to POPs, generators, rollback."""
    from edgelab.controlplane.app import ControlServer
    from edgelab.serving import run_service

    _setup_logging(log_level, log_format)
    run_service(
        ControlServer(state_dir=state_dir, host=host, port=port, token=token), "control", port_file
    )


@app.command()
def toxiproxy(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="API port (0 = any free port).")] = 8474,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Toxiproxy JSON config: a list of proxies, as /populate."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for toxicity, jitter and slicing.")
    ] = None,
    port_file: PortFileOpt = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run a Toxiproxy-compatible network fault proxy (same REST API, same toxics)."""
    from edgelab.faultproxy.server import FaultProxyServer, read_config
    from edgelab.serving import run_service

    _setup_logging(log_level, log_format)
    data = read_config(config) if config else None
    server = FaultProxyServer(host, port, seed=seed, config=data, config_source=str(config))
    run_service(server, "toxiproxy", port_file)


@app.command()
def report(
    run_dirs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN_DIR | compare RUN_A RUN_B",
            help="A run directory (runs/<stamp>-<slug>), or `compare` and two of them.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the files (default: the run directory, B's)."),
    ] = None,
) -> None:
    """Write summary.json, summary.md and report.html for a run (or compare two runs)."""
    from edgelab.report.compare import ComparisonPaths, write_comparison
    from edgelab.report.render import ReportPaths, write_report

    written: ReportPaths | ComparisonPaths
    if run_dirs[0] == "compare":
        if len(run_dirs) != 3:
            raise ConfigError("report compare: give two run directories: compare RUN_A RUN_B")
        written = write_comparison(Path(run_dirs[1]), Path(run_dirs[2]), out)
    elif len(run_dirs) != 1:
        raise ConfigError("report: give one run directory (or: compare RUN_A RUN_B)")
    else:
        written = write_report(Path(run_dirs[0]), out)
    for path in (written.json, written.markdown, written.html):
        print(path)


@app.command()
def steer(
    config: Annotated[
        Path | None, typer.Option("--config", help="Steering config YAML (services, health).")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="NAME=URL[,URL...] in priority order (repeat); replaces --service's targets.",
        ),
    ] = None,
    service: Annotated[str, typer.Option("--service", help="Service --target defines.")] = "www",
    ttl_s: Annotated[
        float | None, typer.Option("--ttl", help="Seconds clients may cache an answer.")
    ] = None,
    interval_s: Annotated[
        float | None, typer.Option("--interval", help="Seconds between checks of one URL.")
    ] = None,
    timeout_s: Annotated[
        float | None, typer.Option("--timeout", help="Seconds before a check fails.")
    ] = None,
    failures: Annotated[
        int | None, typer.Option("--failures", help="Failed checks that mark a URL down.")
    ] = None,
    successes: Annotated[
        int | None, typer.Option("--successes", help="Passed checks that mark it up again.")
    ] = None,
    check_path: Annotated[
        str | None, typer.Option("--check-path", help="Path each check requests.")
    ] = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 = any free port).")] = 8053,
    port_file: PortFileOpt = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run steering (DNS/GSLB model): health-check targets, answer /resolve with a TTL."""
    from edgelab.config.load import load_model
    from edgelab.serving import run_service
    from edgelab.steering.config import SteeringConfig, with_flags
    from edgelab.steering.server import SteeringServer

    _setup_logging(log_level, log_format)
    model = load_model(config, SteeringConfig) if config else SteeringConfig()
    model = with_flags(
        model,
        service,
        target or [],
        ttl_s=ttl_s,
        interval_s=interval_s,
        timeout_s=timeout_s,
        failures_to_down=failures,
        successes_to_up=successes,
        path=check_path,
    )
    if not model.services:
        raise ConfigError("steer: no services: give --config or at least one --target")
    run_service(SteeringServer(model, host=host, port=port), "steer", port_file)


@app.command()
def surge(
    targets: Annotated[
        Path, typer.Option("--targets", envvar="EDGELAB_TARGETS", help="Targets file (JSON/YAML).")
    ],
    shape: Annotated[
        str,
        typer.Option(
            "--shape",
            help="Shape file (.yaml/.json/.csv) or kind:key=value,... "
            "(steady, step, spike, ramp, csv).",
        ),
    ] = "steady:users=10",
    duration_s: Annotated[
        float | None, typer.Option("--duration", help="Seconds; overrides the shape's.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Run directory for requests.csv and Locust's output.")
    ] = Path("runs/surge"),
    workers: Annotated[
        int,
        typer.Option("--workers", min=0, help="Local Locust worker processes (0 = one process)."),
    ] = 0,
    mix: Annotated[
        str | None,
        typer.Option("--mix", help="User weights, e.g. browser=6,api=3,attacker=1,bot=1."),
    ] = None,
    locustfile: Annotated[
        Path | None, typer.Option("--locustfile", help="Default: loadtests/locustfile.py.")
    ] = None,
    log_level: LogLevelOpt = "info",
    log_format: LogFormatOpt = LogFormat.text,
) -> None:
    """Run Locust headless against --targets with a surge shape, into a run directory."""
    from edgelab.loadgen.display import surge_with_display
    from edgelab.loadgen.profiles import parse_mix
    from edgelab.loadgen.shapes import parse_shape
    from edgelab.loadgen.targets import load_targets

    _setup_logging(log_level, log_format)
    model = load_targets(targets)
    if mix:
        parse_mix(mix, "--mix")
    result = surge_with_display(
        model, parse_shape(shape), duration_s, out, workers=workers, mix=mix, locustfile=locustfile
    )
    print(f"edgelab surge: {result.duration_s:.0f}s, results in {result.out_dir}")


@app.command()
def demo(
    experiment: Annotated[
        str, typer.Option("--experiment", help="Shipped experiment name or a file.")
    ] = "cloudflare-2025-11-18",
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant", help="Variants to run (repeatable); default none, dns-failover, hardened."
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Load seconds per variant; the timeline scales."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the run directory goes.")] = Path(
        "runs"
    ),
    origin_url: Annotated[
        str | None, typer.Option("--origin-url", help="Rehearse against your own origin.")
    ] = None,
    log_level: LogLevelOpt = "warning",
) -> None:
    """The main job: replay Cloudflare 2025-11-18 under a surge, without and with bypass, and report."""
    from edgelab.chaos.cli import run_cancellable
    from edgelab.demo import DEMO_VARIANTS, DemoOptions, run_demo

    _setup_logging(log_level, LogFormat.text)
    options = DemoOptions(
        experiment=experiment,
        variants=tuple(variant or DEMO_VARIANTS),
        duration_s=duration,
        out_root=out,
        origin_url=origin_url,
    )
    run_cancellable(run_demo(options))


@app.command()
def version() -> None:
    """Print edgelab's version."""
    print(__version__)


def main(argv: list[str] | None = None) -> None:
    """Console entry point; user mistakes become one line and exit code 2."""
    try:
        code = app(args=argv, standalone_mode=False)
        # without standalone mode, typer returns (not raises) the code of an Exit, e.g. 130
        # for Ctrl-C
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except EdgelabError as e:
        print(f"edgelab: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        raise
