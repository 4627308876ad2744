"""The compiled build (setup.py, mypyc): which modules run compiled, and stale builds found."""

from __future__ import annotations

import os
from pathlib import Path

from edgelab.policy.waf import PER_REQUEST_MODULES, compiled_modules, stale_compiled_modules


def test_a_source_edited_after_its_build_is_stale(tmp_path: Path) -> None:
    source = tmp_path / "scan.py"
    built = tmp_path / "scan.cpython-311-x86_64-linux-gnu.so"
    source.write_text("x = 1\n")
    built.write_bytes(b"\x7fELF")
    (tmp_path / "memo.py").write_text("y = 1\n")  # no build of it: never stale
    os.utime(built, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    assert stale_compiled_modules(tmp_path) == [str(source)]
    os.utime(built, (3_000, 3_000))
    assert stale_compiled_modules(tmp_path) == []


def test_compiled_modules_are_per_request_modules_and_all_or_none() -> None:
    """setup.py builds the six together (one mypyc group): a partial build is a broken one."""
    compiled = compiled_modules()
    assert set(compiled) <= set(PER_REQUEST_MODULES)
    assert compiled in ([], list(PER_REQUEST_MODULES))
