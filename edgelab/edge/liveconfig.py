"""Applying a pushed `edge-config` on a running POP: only the sections safe to swap live.

    artifacts.register("edge-config", LiveConfig(edge).apply)

The pushed document has the shape of the edge's own config file (`EdgeConfig`), so a pushed
config and a local start cannot drift; it is validated whole and refused (`rejected`) if it is
not a valid edge config. Then only the sections the document names *and* a stage can swap live
are taken: a stage opts in with `config_section = "<section>"` and `reconfigure(new_section)`
(`bot`, `cache`). Everything else is left as it is, because it is this POP's identity (`pop`,
`cdn`), or it is bound at start (`origin`, `upstream`, `client` limits, listeners, `control`):
changing those needs a restart, and the POP logs which pushed sections it left alone. One pushed
file can therefore go to every POP without overwriting each POP's name and origin.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from edgelab.config.edge import EdgeConfig
from edgelab.config.load import describe_validation_error
from edgelab.edge.artifacts import Artifact, ArtifactOutcome

if TYPE_CHECKING:
    from edgelab.edge.server import EdgeServer

logger = logging.getLogger(__name__)


class LiveConfig:
    def __init__(self, edge: EdgeServer) -> None:
        self.edge = edge
        self.left_alone: list[str] = []
        """Sections of the last pushed config that differ and need a restart to take effect."""

    def apply(self, artifact: Artifact) -> ArtifactOutcome:
        source = f"edge-config v{artifact.version}"
        try:
            text = artifact.content.decode("utf-8")
            doc: Any = json.loads(text) if text.lstrip()[:1] == "{" else yaml.safe_load(text)
            pushed = EdgeConfig.model_validate(doc or {})
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
            reason = (
                describe_validation_error(source, e).replace("\n", "; ")
                if isinstance(e, ValidationError)
                else f"{source}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            )
            logger.warning("refused: %s", reason)
            return ArtifactOutcome.REJECTED
        current = self.edge.config
        live: dict[str, Any] = {}
        for st in self.edge.pipeline.stages:
            section = getattr(st, "config_section", None)
            if section and hasattr(st, "reconfigure"):
                live[section] = st
        updates: dict[str, Any] = {}
        left: list[str] = []
        for section in sorted(pushed.model_fields_set):
            new = getattr(pushed, section)
            if new == getattr(current, section):
                continue
            stage = live.get(section)
            if stage is None:
                left.append(section)
                continue
            stage.reconfigure(new)
            updates[section] = new
        self.edge.config = current.model_copy(update=updates)
        self.left_alone = left
        logger.info(
            "%s: swapped live %s%s",
            source,
            ", ".join(updates) or "nothing",
            f"; left alone (need a restart or are this POP's own): {', '.join(left)}"
            if left
            else "",
        )
        return ArtifactOutcome.APPLIED
