"""JSON log lines, for the gateway's loggers and uvicorn's.

One JSON object per line: time, level, logger, message, plus the structured
``fields`` a record carries (see :mod:`gateway.observe`). A record's
exception is reduced to its class name: a traceback carries file paths and
may quote values, so it never reaches the log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

# Loggers of libraries renamed for what they are (no driver names in the log).
RENAMED = {"asyncpg": "cpni_gateway.database"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object, without tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        root, _, rest = record.name.partition(".")
        name = RENAMED[root] + (f".{rest}" if rest else "") if root in RENAMED else record.name
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return orjson.dumps(line, default=str).decode()


def log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's ``log_config``: everything as JSON on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "gateway.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": "WARNING"},
        "loggers": {
            "cpni_gateway": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["json"], "level": "WARNING", "propagate": False},
        },
    }
