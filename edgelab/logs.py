"""Log handler setup, called from the CLI only: importing edgelab never changes logging.

`--log-format json` gives one JSON object per line (ts, level, logger, msg, and `request_id`,
`stage`, `rule_id` when a record carries them), for log shippers; `text` is for people.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_EXTRA_FIELDS = ("request_id", "stage", "rule_id", "component")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log duplicates ours
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
