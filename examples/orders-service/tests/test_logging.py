"""Log lines are JSON objects a log pipeline can index."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from orders_service import __main__ as entrypoint
from orders_service.config import get_settings
from orders_service.logging import JsonFormatter, configure_logging
from orders_service.request_id import request_id_var


def format_record(**extra: object) -> dict[str, object]:
    logger = logging.getLogger("test")
    record = logger.makeRecord("test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.__dict__.update(extra)
    entry: dict[str, object] = json.loads(JsonFormatter().format(record))
    return entry


def test_a_record_is_one_json_object() -> None:
    entry = format_record()

    assert entry["message"] == "hello world"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "test"
    assert str(entry["timestamp"]).endswith("+00:00")


def test_extra_fields_become_keys() -> None:
    assert format_record(request_id="abc")["request_id"] == "abc"


def test_the_request_id_is_added_while_a_request_is_served() -> None:
    token = request_id_var.set("req-42")
    try:
        assert format_record()["request_id"] == "req-42"
    finally:
        request_id_var.reset(token)

    assert "request_id" not in format_record()


def test_the_trace_is_named_while_a_span_is_recorded() -> None:
    assert "trace_id" not in format_record()

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = format_record()

    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["span_id"] == format(span.get_span_context().span_id, "016x")


def test_uvicorn_colour_codes_are_dropped() -> None:
    assert "color_message" not in format_record(color_message="\x1b[1mhello\x1b[0m")


def test_exceptions_are_kept() -> None:
    try:
        msg = "broken"
        raise ValueError(msg)
    except ValueError:
        record = logging.getLogger("test").makeRecord(
            "test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )

    entry = json.loads(JsonFormatter().format(record))

    assert "ValueError: broken" in entry["exception"]


@pytest.mark.parametrize(("tty", "json_lines"), [(False, True), (True, False)])
def test_configure_logging_picks_the_format(
    monkeypatch: pytest.MonkeyPatch, tty: bool, json_lines: bool
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(stream, "isatty", lambda: tty)
    monkeypatch.setattr(sys, "stdout", stream)

    configure_logging("INFO")
    logging.getLogger("uvicorn.error").info("started")

    line = stream.getvalue().strip()
    assert line.startswith("{") is json_lines
    assert "started" in line
    assert logging.getLogger("uvicorn.error").propagate


def test_uvicorns_own_access_log_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app writes one access line per request; uvicorn's would be a second, slower one."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda _app, **kw: calls.append(kw))
    get_settings.cache_clear()

    entrypoint.main()
    get_settings.cache_clear()
    configure_logging("INFO")

    assert calls[0]["access_log"] is False
    assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
