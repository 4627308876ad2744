"""Catalogue: name -> action or probe. The runner calls entries by name and knows nothing else.

A new action is one async function `fn(ctx: RunContext, *, ...)` in the module for its target
plus one line here. Arguments are keyword-only so experiment files name them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from edgelab.chaos.catalogue import (
    cache,
    container,
    control,
    edge,
    http,
    origin,
    process,
    toxiproxy,
    waf,
)

Activity = Callable[..., Awaitable[Any]]

CATALOGUE: dict[str, Activity] = {
    "cache.purge": cache.purge,
    "container.act": container.act,
    "control.push": control.push,
    "control.rollback": control.rollback,
    "control.flap": control.flap,
    "control.stop_flap": control.stop_flap,
    "control.killswitch": control.killswitch,
    "edge.abort": edge.abort,
    "edge.delay": edge.delay,
    "edge.panic": edge.panic,
    "edge.burn_cpu": edge.burn_cpu,
    "edge.clear_faults": edge.clear_faults,
    "edge.crash": edge.crash,
    "http.success_ratio": http.success_ratio,
    "http.latency_percentile": http.latency_percentile,
    "http.metric": http.metric,
    "http.healthy": http.healthy,
    "http.send": http.send,
    "http.steering_target": http.steering_target,
    "origin.dependency": origin.dependency,
    "process.signal": process.send_signal,
    "toxiproxy.add_toxic": toxiproxy.add_toxic,
    "toxiproxy.update_toxic": toxiproxy.update_toxic,
    "toxiproxy.remove_toxic": toxiproxy.remove_toxic,
    "toxiproxy.disable": toxiproxy.disable,
    "toxiproxy.enable": toxiproxy.enable,
    "waf.push_ruleset": waf.push_ruleset,
}
