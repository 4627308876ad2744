"""The compiled build (setup.py, mypyc): which modules run compiled, and stale builds found."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from multidict import CIMultiDict

from edgelab import compiled
from edgelab.compiled import MODULES, compiled_modules, source_paths, stale_compiled_modules
from edgelab.edge.exchange import ClientRequest, Exchange
from edgelab.policy.waf import PER_REQUEST_MODULES
from edgelab.policy.waf.engine import Evaluation
from edgelab.policy.waf.request import WafRequest


def test_a_source_edited_after_its_build_is_stale(tmp_path: Path) -> None:
    source, unbuilt = source_paths(tmp_path)[:2]
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n")
    unbuilt.write_text("y = 1\n")  # no build of it: never stale
    built = source.with_name(f"{source.stem}.cpython-311-x86_64-linux-gnu.so")
    built.write_bytes(b"\x7fELF")
    os.utime(built, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    assert stale_compiled_modules(tmp_path) == [str(source)]
    os.utime(built, (3_000, 3_000))
    assert stale_compiled_modules(tmp_path) == []


def test_every_listed_module_has_its_source() -> None:
    """setup.py compiles what the list names: a renamed module must not drop out silently."""
    assert all(path.is_file() for path in source_paths())
    assert len(set(MODULES)) == len(MODULES)


def test_compiled_modules_are_all_or_none() -> None:
    """setup.py builds them together (one mypyc group): a partial build is a broken one.
    CI sets EDGELAB_EXPECT_COMPILED: a build that fell back to plain Python (it only warns,
    and `pip -q` hides the warning) fails there rather than passing slower."""
    running = compiled_modules()
    if os.environ.get("EDGELAB_EXPECT_COMPILED"):
        assert running == list(MODULES)
    assert running in ([], list(MODULES))


def test_the_waf_reports_its_own_modules() -> None:
    assert PER_REQUEST_MODULES == ("engine", "memo", "operators", "request", "scan", "transforms")
    from edgelab.policy.waf import compiled_modules as waf_compiled

    assert waf_compiled() == ([] if not compiled.compiled_modules() else list(PER_REQUEST_MODULES))


_REQUEST = ClientRequest("GET", "/", "", CIMultiDict(), "203.0.113.1")


@pytest.mark.parametrize(
    ("made", "cls"),
    [
        (WafRequest("GET", "/"), WafRequest),
        (Evaluation(), Evaluation),
        (_REQUEST, ClientRequest),
        (Exchange(_REQUEST), Exchange),
    ],
)
def test_written_out_inits_set_every_field_to_its_declared_default(made: object, cls: type) -> None:
    """These dataclasses write their `__init__` out (the compiled build would run the
    dataclass one as interpreted Python, once per request): a field added to the class but
    not to its `__init__` fails here, not in a compiled edge."""
    own = getattr(made, "__dict__", None)  # plain Python: class-level defaults would hide a gap
    for f in dataclasses.fields(cls):
        assert own is None or f.name in own, f.name
        if f.default is not dataclasses.MISSING:
            assert getattr(made, f.name) == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(made, f.name) == f.default_factory(), f.name
