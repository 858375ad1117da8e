"""Structured logging: JSON lines for machines, plain lines on a terminal."""

from __future__ import annotations

import json
import logging
import sys
import time
from functools import lru_cache
from typing import Any

from opentelemetry import trace

from .request_id import request_id_var

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field
# (except uvicorn's `color_message`, the same message with terminal colour codes).
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}
# One encoder for every line: json.dumps(default=...) would build one per call.
_ENCODER = json.JSONEncoder(default=str)


@lru_cache(maxsize=4)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def utc_timestamp(created: float) -> str:
    """ISO 8601 in UTC with microseconds, as `datetime.isoformat()` writes it, but cheaper."""
    seconds = int(created)
    return f"{_utc_second(seconds)}.{int((created - seconds) * 1_000_000):06d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with `extra=` fields kept as top-level keys.

    Lines written while serving a request carry its `request_id`, and while a span is
    recorded its `trace_id` and `span_id`, so a log search joins them to the trace.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


class ServiceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs, told apart from handlers others add."""


def configure_logging(level: str) -> None:
    """Route the root logger and uvicorn's loggers through one handler (idempotent)."""
    handler = ServiceHandler(sys.stdout)
    if sys.stdout.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for installed in [h for h in root.handlers if isinstance(h, ServiceHandler)]:
        root.removeHandler(installed)
    root.addHandler(handler)
    root.setLevel(level)
    # Neither format shows them, and each record would look them up.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The app writes one access line per request (middleware.py); uvicorn's would double it
    # when the app is served by `uvicorn` itself rather than `python -m`.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
