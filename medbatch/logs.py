"""Logging setup: human-readable lines on a terminal, one JSON object per line in a cluster.

Log calls in medbatch pass ids, counts and error types as arguments and never note text; this module
only formats.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Literal

LOG_FORMAT_ENV = "MEDBATCH_LOG_FORMAT"
LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and exception type, never its text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry)


def configure_logging(fmt: LogFormat | None = None, level: int = logging.INFO) -> None:
    """Route medbatch's logs to stderr in ``fmt`` (default: $MEDBATCH_LOG_FORMAT, else text)."""
    chosen = fmt or os.environ.get(LOG_FORMAT_ENV, "text")
    handler = logging.StreamHandler(sys.stderr)
    if chosen == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("medbatch")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
