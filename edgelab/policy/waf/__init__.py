"""The WAF as pure code: rules are data, the engine decides, the edge stage only applies.

ruleset = load_default_ruleset()
engine = WafEngine(ruleset, EngineOptions(paranoia_level=1, regex_engine="re2"))
verdict = engine.evaluate(WafRequest.build("GET", "/search", "q=1' or '1'='1"), now=0.0)
verdict.blocked, verdict.rule_id   # True, 949110 (anomaly score over the threshold)

The per-request modules (PER_REQUEST_MODULES) are compiled to C with mypyc when edgelab is
installed where a C compiler is at hand (setup.py, edgelab/compiled.py); `compiled_modules()`
says which of them run compiled in this process. Same source, same behaviour, about 0.6x the time per request.
"""

from __future__ import annotations

from edgelab import compiled

PER_REQUEST_MODULES = tuple(
    name.removeprefix(f"{__name__}.")
    for name in compiled.MODULES
    if name.startswith(f"{__name__}.")
)
"""The modules of this package setup.py compiles (edgelab.policy.waf.<name>, as
edgelab/compiled.py lists them)."""


def compiled_modules() -> list[str]:
    """The per-request modules this process runs compiled (imports them)."""
    running = compiled.compiled_modules()
    return [name for name in PER_REQUEST_MODULES if f"{__name__}.{name}" in running]
