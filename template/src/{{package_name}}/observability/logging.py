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


def json_line(created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> str:
    """One log line as a JSON object: the fixed keys, the request's IDs, then `fields`."""
    entry: dict[str, Any] = {
        "timestamp": utc_timestamp(created),
        "level": level,
        "logger": logger,
        "message": message,
    }
    request_id = request_id_var.get()
    if request_id is not None:
        entry["request_id"] = request_id
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        entry["trace_id"] = format(span.trace_id, "032x")
        entry["span_id"] = format(span.span_id, "016x")
    entry.update(fields)
    return _ENCODER.encode(entry)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with `extra=` fields kept as top-level keys.

    Lines written while serving a request carry its `request_id`, and while a span is
    recorded its `trace_id` and `span_id`, so a log search joins them to the trace.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json_line(record.created, record.levelname, record.name, record.getMessage(), fields)


class ServiceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs, told apart from handlers others add."""

    def write_line(self, line: str) -> None:
        """Write a line formatted without a LogRecord, as `emit` writes one."""
        self.acquire()
        try:
            self.stream.write(line + self.terminator)
            self.flush()
        except (OSError, ValueError):
            # As `emit` would, minus its report on stderr: a lost line must not fail a request.
            return
        finally:
            self.release()


def sole_json_handler(logger: logging.Logger) -> ServiceHandler | None:
    """The JSON ServiceHandler, when it is the only place records of `logger` go, unfiltered.

    Then a line can be written straight to it (`json_line`, `ServiceHandler.write_line`),
    without the cost of a LogRecord and the handler chain; else log as usual.
    """
    found: ServiceHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if (
                found is not None
                or not isinstance(handler, ServiceHandler)
                or not isinstance(handler.formatter, JsonFormatter)
                or handler.filters
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


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
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The app writes the access lines (middleware.py): uvicorn's would double them. With a
    # handler to reach, uvicorn also builds its line's arguments for every response before
    # the level is checked (served by `python -m` or by `uvicorn` alike).
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.setLevel(logging.WARNING)
