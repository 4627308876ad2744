"""A live view of a run for the terminal: one line per journal event that matters to a person.

    journal.observers.append(EventPrinter(Console()))

Probes show their value and verdict; faults, rollbacks and errors stand out in colour.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

_STYLE = {"ok": "green", "failed": "bold red", "deviated": "yellow"}
_QUIET = {"probe"}


class EventPrinter:
    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose

    def __call__(self, e: dict[str, Any]) -> None:
        kind = e["type"]
        if kind in _QUIET and not self.verbose and e["status"] == "ok":
            return
        t = "" if e.get("t") is None else f"t={e['t']:6.1f}s"
        variant = e.get("variant") or ""
        style = _STYLE.get(e["status"], "")
        detail = e.get("detail") or {}
        extra = ""
        if "output" in detail and kind == "probe":
            extra = f" -> {detail['output']!r}"
        if "error" in detail:
            extra = f" -> {detail['error']}"
        if kind in ("fault-start", "fault-end"):
            style = "bold magenta"
        self.console.print(
            f"[dim]{variant:>12}[/dim] {t:>9} [{style}]{kind:<13}[/{style}] {e.get('name', '')}{extra}",
            highlight=False,
        )
