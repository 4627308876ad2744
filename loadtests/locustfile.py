"""edgelab's load: four traffic profiles, surge shapes, bypass paths, requests.csv.

    locust -f loadtests/locustfile.py --headless --edgelab-targets targets.json \\
        --edgelab-shape step:baseline_users=20,factor=5,t1_s=10,t2_s=30,duration_s=40 \\
        --edgelab-run-dir runs/x --csv runs/x/locust --csv-full-history --html runs/x/locust.html

or `edgelab surge`, which runs exactly this. The `--edgelab-*` options are in
loadtests/options.py; the users in users.py, the shape in shapes.py, the bypass paths in
bypass.py, requests.csv in recorder.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import locust.stats
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from edgelab.errors import EdgelabError
from edgelab.loadgen.profiles import parse_mix
from edgelab.loadgen.records import write_load_start
from edgelab.loadgen.targets import TARGETS_ENV, load_targets
from loadtests.options import add_options
from loadtests.recorder import Recorder
from loadtests.shapes import EdgelabShape  # noqa: F401  (Locust picks the shape up from here)
from loadtests.users import USER_CLASSES, ApiUser, AttackerUser, BotUser, BrowserUser, EdgelabUser

__all__ = ["ApiUser", "AttackerUser", "BotUser", "BrowserUser", "EdgelabShape"]

logger = logging.getLogger("edgelab.locustfile")

# Progress displays read the stats history; flush it every second instead of every ten.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1


events.init_command_line_parser.add_listener(add_options)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    assert options is not None  # always set when Locust runs a locustfile
    try:
        if not options.edgelab_targets:
            raise EdgelabError(f"--edgelab-targets (or {TARGETS_ENV}) is required")
        targets = load_targets(Path(options.edgelab_targets))
        mix = parse_mix(options.edgelab_mix) if options.edgelab_mix else targets.mix
    except EdgelabError as e:
        logger.error("edgelab: %s", e)
        raise SystemExit(2) from e
    EdgelabUser.targets = targets
    EdgelabUser.network_timeout = EdgelabUser.connection_timeout = targets.timeout_s
    for profile, cls in USER_CLASSES.items():
        cls.weight = mix.get(profile, 0)
    # Profiles weighted 0 leave the run (Locust does the same for weight-0 classes it is given).
    environment.user_classes[:] = [c for c in environment.user_classes if c.weight > 0]
    if not environment.host:
        environment.host = targets.cdn_a[0]
    run_dir = Path(options.edgelab_run_dir) if options.edgelab_run_dir else None
    global _recorder
    _recorder = Recorder.attach(environment, run_dir)
    if run_dir is not None and not isinstance(environment.runner, WorkerRunner):

        def started(**_: Any) -> None:
            write_load_start(run_dir, time.time())

        environment.events.test_start.add_listener(started)


_recorder: Recorder | None = None


@events.request.add_listener
def _on_request(**kwargs: Any) -> None:
    """Every attempt as Locust reports it becomes a requests.csv row (buffered)."""
    if _recorder is not None:
        _recorder.on_request(**kwargs)
