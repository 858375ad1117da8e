"""Capture what the service logs, as the JSON lines its formatter writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from orders_service.observability.logging import (
    JsonFormatter,
)

LogLines = Callable[[], list[dict[str, Any]]]

# The package's logger, parent of every module's, and the access log's (middleware.py).
SERVICE_LOGGER = "orders_service"
ACCESS_LOGGER = f"{SERVICE_LOGGER}.access"


@contextmanager
def json_lines() -> Iterator[LogLines]:
    """Every record the root logger handles meanwhile, formatted as it is in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
