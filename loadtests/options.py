"""edgelab's Locust command-line options (also environment variables), for any locustfile.

    events.init_command_line_parser.add_listener(add_options)

`--edgelab-targets` (EDGELAB_TARGETS) the targets file; `--edgelab-shape` (EDGELAB_SHAPE) a shape
file or `kind:key=value,...`; `--edgelab-run-dir` (EDGELAB_RUN_DIR) where requests.csv goes;
`--edgelab-mix` (EDGELAB_MIX) `browser=6,api=3,...` user weights (else the targets file's).
"""

from __future__ import annotations

from typing import Any

from edgelab.loadgen.targets import TARGETS_ENV


def add_options(parser: Any) -> None:
    group = parser.add_argument_group("edgelab")
    group.add_argument(
        "--edgelab-targets", env_var=TARGETS_ENV, default="", help="Targets file (JSON/YAML)."
    )
    group.add_argument(
        "--edgelab-shape", env_var="EDGELAB_SHAPE", default="", help="Shape file or kind:k=v,..."
    )
    group.add_argument(
        "--edgelab-run-dir", env_var="EDGELAB_RUN_DIR", default="", help="Write requests.csv here."
    )
    group.add_argument(
        "--edgelab-mix", env_var="EDGELAB_MIX", default="", help="browser=6,api=3,attacker=1,bot=1"
    )
