"""Log lines are JSON objects a log pipeline can index."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from orders_service import __main__ as entrypoint
from orders_service.config import get_settings
from orders_service.observability.logging import (
    JsonFormatter,
    ServiceHandler,
    configure_logging,
    json_line,
    sole_json_handler,
    utc_timestamp,
)
from orders_service.observability.request_id import (
    request_id_var,
)
from tests.logs import ACCESS_LOGGER


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


def test_timestamps_are_utc_with_microseconds() -> None:
    assert utc_timestamp(1_700_000_000.25) == "2023-11-14T22:13:20.250000+00:00"
    assert utc_timestamp(1_700_000_001.0) == "2023-11-14T22:13:21.000000+00:00"


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
    # What uvicorn checks, once per connection, before it builds a line for each response.
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_a_line_without_a_record_reads_as_one_with() -> None:
    logger = logging.getLogger("test")
    record = logger.makeRecord("test", logging.INFO, __file__, 1, "hi %s", ("you",), None)
    record.__dict__.update({"status": 200, "path": "/p"})

    direct = json_line(record.created, "INFO", "test", "hi you", {"status": 200, "path": "/p"})

    assert direct == JsonFormatter().format(record)


@contextmanager
def alone(handler: logging.Handler) -> Iterator[None]:
    """The root logger with only `handler`: pytest's own set aside (inside a test's call)."""
    root = logging.getLogger()
    others = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        yield
    finally:
        root.handlers[:] = others


def json_handler() -> ServiceHandler:
    handler = ServiceHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    return handler


class TestSoleJsonHandler:
    def test_found_when_alone(self) -> None:
        handler = json_handler()

        with alone(handler):
            assert sole_json_handler(logging.getLogger(ACCESS_LOGGER)) is handler

    def test_not_beside_another_handler(self) -> None:
        logger = logging.getLogger("test.sole.other")
        logger.addHandler(logging.NullHandler())
        try:
            with alone(json_handler()):
                assert sole_json_handler(logger) is None
        finally:
            logger.handlers.clear()

    def test_not_under_a_filter(self) -> None:
        logger = logging.getLogger("test.sole.filtered")
        logger.addFilter(lambda _record: True)
        try:
            with alone(json_handler()):
                assert sole_json_handler(logger) is None
        finally:
            logger.filters.clear()

    def test_not_on_a_terminal(self) -> None:
        handler = json_handler()
        handler.setFormatter(logging.Formatter("%(message)s"))

        with alone(handler):
            assert sole_json_handler(logging.getLogger("test")) is None

    def test_none_when_records_go_nowhere(self) -> None:
        logger = logging.getLogger("test.sole.isolated")
        logger.propagate = False
        try:
            with alone(json_handler()):
                assert sole_json_handler(logger) is None
        finally:
            logger.propagate = True


def test_a_direct_line_is_written_and_a_closed_stream_survived() -> None:
    stream = io.StringIO()
    handler = ServiceHandler(stream)

    handler.write_line('{"message": "direct"}')
    assert stream.getvalue() == '{"message": "direct"}\n'

    stream.close()
    handler.write_line('{"message": "lost"}')
