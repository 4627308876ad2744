"""Reports rendered once per test session: drawing charts is the slow part of this area."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from edgelab.report.render import ReportPaths, write_report
from tests.report import scenario
from tests.report.factory import aborted_run


@pytest.fixture(scope="session")
def complete_report(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """The three-variant run of scenario.py, rendered into its run directory."""
    path = tmp_path_factory.mktemp("complete") / "20251118T112000Z-cloudflare-2025-11-18"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib layout warning means an unreadable chart
        return write_report(scenario.build(path).path)


@pytest.fixture(scope="session")
def partial_report(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """An aborted run, rendered into another directory."""
    root = tmp_path_factory.mktemp("partial")
    return write_report(aborted_run(root / "run"), root / "out")


@pytest.fixture
def run_path(tmp_path: Path) -> Path:
    return scenario.build(tmp_path / "run").path
