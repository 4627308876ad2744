"""The WAF as pure code: rules are data, the engine decides, the edge stage only applies.

ruleset = load_default_ruleset()
engine = WafEngine(ruleset, EngineOptions(paranoia_level=1, regex_engine="re2"))
verdict = engine.evaluate(WafRequest.build("GET", "/search", "q=1' or '1'='1"), now=0.0)
verdict.blocked, verdict.rule_id   # True, 949110 (anomaly score over the threshold)

The per-request modules (PER_REQUEST_MODULES) are compiled to C with mypyc when edgelab is
installed where a C compiler is at hand (setup.py); `compiled_modules()` says which of them run
compiled in this process. Same source, same behaviour, about 0.6x the time per request.
"""

from __future__ import annotations

import importlib
from pathlib import Path

PER_REQUEST_MODULES = ("engine", "memo", "operators", "request", "scan", "transforms")
"""The modules setup.py compiles (edgelab.policy.waf.<name>)."""


def compiled_modules() -> list[str]:
    """The per-request modules this process runs compiled (imports them)."""
    return [
        name
        for name in PER_REQUEST_MODULES
        if not str(importlib.import_module(f"{__name__}.{name}").__file__).endswith(".py")
    ]


def stale_compiled_modules(here: Path = Path(__file__).parent) -> list[str]:
    """Source files edited after their compiled module was built (the compiled one is what
    Python imports): a developer's reminder to run `make compile`."""
    stale = []
    for name in PER_REQUEST_MODULES:
        source = here / f"{name}.py"
        for built in here.glob(f"{name}.*.so"):
            if built.stat().st_mtime < source.stat().st_mtime:
                stale.append(str(source))
    return stale
