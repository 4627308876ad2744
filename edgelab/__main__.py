"""`python -m edgelab` is the `edgelab` command."""

from __future__ import annotations

from edgelab.cli import main

main()
