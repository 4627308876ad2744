"""`edgelab chaos ...`: validate, schema, list, run. Thin: parse, load, call the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

chaos_app = typer.Typer(help="Chaos experiments: validate, list, run.", no_args_is_help=True)

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "chaos" / "experiments"
"""The incident library in a source checkout."""


def library_dir() -> Path:
    """Where the shipped experiments are: the checkout's chaos/experiments or the package copy."""
    packaged = Path(__file__).resolve().parent / "experiments"
    return EXPERIMENTS_DIR if EXPERIMENTS_DIR.is_dir() else packaged


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
