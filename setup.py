"""The build: the WAF's per-request modules and the edge's cache-hit path compiled to C with
mypyc (edgelab/compiled.py lists them), when that is possible.

    pip install -e .                  # compiled if mypyc and a C compiler are at hand
    EDGELAB_PURE=1 pip install -e .   # plain Python, the same behaviour, slower
    make compile                      # rebuild in place after editing one of MODULES

The compiled modules are the same source files, type-checked by mypy --strict: mypyc turns
their interpreter overhead into C (the WAF: about 0.6x the time per request; a cache hit: about
0.7x the instructions; benchmarks/README.md, issues 5 and 3). Without a compiler the build
says so and installs the Python modules, which behave the same.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent

MODULES = [
    str(path.relative_to(HERE))
    for path in runpy.run_path(str(HERE / "edgelab" / "compiled.py"))["source_paths"](HERE)
]
"""The WAF's per-request modules and the edge's cache-hit path (edgelab/compiled.py)."""


def _warn(why: object) -> None:
    print(f"edgelab: the compiled modules stay plain Python ({why})", file=sys.stderr)


def compiled_extensions() -> list[Any]:
    if os.environ.get("EDGELAB_PURE"):
        return []
    try:
        from mypyc.build import mypycify

        return list(mypycify(MODULES, opt_level="3", group_name="edgelab"))
    except (Exception, SystemExit) as e:  # no mypyc, or it refused the code (it exits)
        _warn(f"mypyc: {e!r}")
        return []


class OptionalBuildExt(build_ext):
    """Compiling is an optimisation: a machine without a C compiler still gets edgelab."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:
            _warn(e)
            return
        for ext in self.extensions:  # built from the sources as they are now, even when an
            path = self.get_ext_fullpath(ext.name)  # unchanged one was copied from build/
            if os.path.exists(path):
                os.utime(path)  # (the test suite compares these times with the sources')


setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": OptionalBuildExt})
