"""The modules setup.py compiles to C with mypyc, and whether this process runs them so.

    python -c "import edgelab.compiled as c; print(c.compiled_modules())"

Three groups of hot code are compiled: the WAF's per-request modules (issue 5: its cost is
Python overhead spread over many small steps), the edge's cache-hit path (issue 3: the
listener's connection, the pipeline, the exchange, the response head, the cache stage and its
policy) and bot scoring (every request of the default edge runs it).
The compiled modules are the same source, type-checked by mypy --strict, and behave the same.
Python imports a compiled module before its source, so a build older than its source would
run old code: `stale_compiled_modules` finds those (the test suite refuses to start on one).

Standard library only: setup.py reads this file by path, before edgelab is importable.
"""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The directory holding the `edgelab` package (the repository, in a checkout)."""

MODULES = (
    # the WAF, per request (edgelab/policy/waf)
    "edgelab.policy.waf.engine",
    "edgelab.policy.waf.memo",
    "edgelab.policy.waf.operators",
    "edgelab.policy.waf.request",
    "edgelab.policy.waf.scan",
    "edgelab.policy.waf.transforms",
    # the edge's cache-hit path (edgelab/edge, edgelab/policy/cache)
    "edgelab.edge.exchange",
    "edgelab.edge.fieldnames",
    "edgelab.edge.framing",
    "edgelab.edge.listener",
    "edgelab.edge.metrics",
    "edgelab.edge.pipeline",
    "edgelab.edge.protocol",
    "edgelab.edge.responsehead",
    "edgelab.edge.server",
    "edgelab.edge.stages.cache",
    "edgelab.edge.stages.headers",
    "edgelab.edge.stages.request_id",
    "edgelab.edge.stages.bot",
    "edgelab.edge.stages.waf",
    "edgelab.edge.store",
    "edgelab.edge.tally",
    "edgelab.policy.cache.directives",
    "edgelab.policy.cache.freshness",
    "edgelab.policy.cache.key",
    "edgelab.policy.cache.states",
    "edgelab.policy.cache.status",
    # bot scoring, per request (edgelab/policy/bot)
    "edgelab.policy.bot.ratelimit",
    "edgelab.policy.bot.rules",
    "edgelab.policy.bot.scoring",
    "edgelab.policy.bot.signals",
)
"""Built together, as one mypyc group: a build has all of them or none."""


def source_paths(root: Path = ROOT) -> list[Path]:
    """The source file of each of MODULES under `root`."""
    return [root.joinpath(*name.split(".")).with_suffix(".py") for name in MODULES]


def compiled_modules() -> list[str]:
    """The MODULES this process runs compiled (imports them)."""
    return [
        name for name in MODULES if not str(importlib.import_module(name).__file__).endswith(".py")
    ]


def stale_compiled_modules(root: Path = ROOT) -> list[str]:
    """Sources edited after their compiled module was built: a developer's reminder to run
    `make compile`."""
    stale = []
    for source in source_paths(root):
        if not source.exists():
            continue
        for built in source.parent.glob(f"{source.stem}.*.so"):
            if built.stat().st_mtime < source.stat().st_mtime:
                stale.append(str(source))
    return stale
