"""`edgelab chaos ...`: validate, schema, list, run. Thin: parse, load, call the library."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

chaos_app = typer.Typer(help="Chaos experiments: validate, list, run.", no_args_is_help=True)

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "chaos" / "experiments"
"""The incident library in a source checkout."""


def library_dir() -> Path:
    """Where the shipped experiments are: the source checkout's chaos/experiments, else the
    copy an install puts under `<prefix>/share/edgelab/experiments`."""
    import sys

    installed = Path(sys.prefix) / "share" / "edgelab" / "experiments"
    return EXPERIMENTS_DIR if EXPERIMENTS_DIR.is_dir() else installed


def resolve_experiment(name_or_path: str) -> Path:
    """A path, or the name of a shipped experiment (`cloudflare-2025-11-18`)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    for candidate in (library_dir() / f"{name_or_path}.yaml", library_dir() / name_or_path):
        if candidate.is_file():
            return candidate
    from edgelab.errors import ConfigError

    raise ConfigError(
        f"{name_or_path}: no such experiment file or shipped experiment (see `edgelab chaos list`)"
    )


@chaos_app.command()
def validate(
    file: Annotated[str, typer.Argument(help="Experiment file (YAML or JSON) or shipped name.")],
) -> None:
    """Check an experiment file: every problem with its field path and reason."""
    from edgelab.chaos.load import load_experiment

    path = resolve_experiment(file)
    experiment = load_experiment(path)
    print(
        f"{path}: ok ({len(experiment.method)} method steps, variants: {', '.join(experiment.variant_names())})"
    )


@chaos_app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON Schema here instead of stdout.")
    ] = None,
) -> None:
    """Export the experiment JSON Schema (for editors)."""
    from edgelab.chaos.model import Experiment

    text = json.dumps(Experiment.model_json_schema(by_alias=True), indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n")


@chaos_app.command("list")
def list_experiments() -> None:
    """The shipped incident library, one line each."""
    from rich.console import Console
    from rich.table import Table

    from edgelab.chaos.load import load_experiment

    table = Table("name", "title", "variants", box=None)
    for path in sorted(library_dir().glob("*.yaml")):
        exp = load_experiment(path)
        table.add_row(path.stem, exp.title, ", ".join(exp.variant_names()))
    Console().print(table)


def run_cancellable(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with SIGTERM cancelling the main task as Ctrl-C does (rollbacks then run)."""
    import asyncio
    import signal

    from edgelab.serving import install_uvloop

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await coro

    install_uvloop()
    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


@chaos_app.command()
def run(
    file: Annotated[str, typer.Argument(help="Experiment file or shipped name.")],
    variant: Annotated[
        list[str] | None, typer.Option("--variant", help="Run only these variants (repeatable).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where run directories go.")] = Path("runs"),
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Load seconds per variant; the timeline scales."),
    ] = None,
    origin_url: Annotated[
        str | None, typer.Option("--origin-url", help="Put your own origin behind the lab's POPs.")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write the report at the end.")
    ] = True,
) -> None:
    """Run an experiment: every variant on a fresh lab, rollbacks always, then the report."""
    from edgelab.demo import DemoOptions, run_demo

    resolve_experiment(file)
    options = DemoOptions(
        experiment=file,
        variants=tuple(variant or ()),
        duration_s=duration,
        out_root=out,
        origin_url=origin_url,
        report=report,
    )
    run_cancellable(run_demo(options))
