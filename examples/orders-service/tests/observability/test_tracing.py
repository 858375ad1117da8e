"""Tracing: nothing at all without an OTLP endpoint; spans over OTLP/HTTP with one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fakeredis import FakeAsyncRedis
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import create_async_engine

from orders_service.config import (
    ENV_PREFIX,
    SERVICE,
    Settings,
)
from orders_service.observability.otel import (
    Tracing,
    service_resource,
)
from orders_service.observability.tracing import (
    create_tracing,
    traces_endpoint,
)
from tests.apps import client_of, make_settings, running_app
from tests.factories import item_payload
from tests.logs import SERVICE_LOGGER, json_lines

ITEMS = "/api/v1/items"
ITEM_ROUTE = "/api/v1/items/{item_id}"


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP collector on loopback that keeps what it receives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.received: list[tuple[str, str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[Span]:
        """Every span of every export request."""
        exported: list[Span] = []
        for path, _, body in self.received:
            if path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        exported.extend(scope_spans.spans)
        return exported


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.server.received.append((self.path, "", b""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Keep the test output quiet."""


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


class TestEndpoint:
    def test_none_by_default(self) -> None:
        assert traces_endpoint(make_settings(), environ={}) is None

    def test_the_setting_names_the_collector(self) -> None:
        settings = make_settings(otlp_endpoint="http://collector:4318/")

        assert traces_endpoint(settings, environ={}) == "http://collector:4318/v1/traces"

    def test_the_standard_variables_are_read(self) -> None:
        base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
        traces = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/in"}

        assert traces_endpoint(make_settings(), base) == "http://collector:4318/v1/traces"
        assert traces_endpoint(make_settings(), traces) == "http://traces:4318/in"

    def test_the_sdk_switch_turns_it_off(self) -> None:
        settings = make_settings(otlp_endpoint="http://collector:4318")

        assert traces_endpoint(settings, {"OTEL_SDK_DISABLED": "true"}) is None

    def test_a_url_is_required(self) -> None:
        with pytest.raises(ValidationError, match="otlp_endpoint"):
            make_settings(otlp_endpoint="collector:4318")


def test_without_an_endpoint_nothing_is_loaded_or_started() -> None:
    # The API (opentelemetry.trace) is light and always loaded; these are what tracing adds.
    tracing_modules = (
        "orders_service.observability.otel",
        "opentelemetry.sdk.trace",
        "opentelemetry.exporter",
    )
    probe = (
        "import sys, threading\n"
        "from orders_service.main import app\n"
        f"print(sorted(m for m in sys.modules if m.startswith({tracing_modules!r})))\n"
        "print(threading.active_count())\n"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name != f"{ENV_PREFIX}OTLP_ENDPOINT"
    }

    # This interpreter, a fixed script: nothing untrusted runs.
    command = [sys.executable, "-c", probe]
    output = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    assert output == ["[]", "1"]


def test_the_resource_names_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert service_resource().attributes["service.name"] == SERVICE
    assert service_resource().attributes["service.version"]

    monkeypatch.setenv("OTEL_SERVICE_NAME", "orders-eu")
    assert service_resource().attributes["service.name"] == "orders-eu"


async def test_spans_reach_the_collector(settings: Settings, collector: Collector) -> None:
    traced = settings.model_copy(update={"otlp_endpoint": collector.url})
    assert create_tracing(make_settings()) is None
    with json_lines() as log_lines:
        async with running_app(traced) as app:

            @app.get("/traced")
            async def traced_route() -> dict[str, str]:
                logging.getLogger(SERVICE_LOGGER).warning("inside a span")
                return {}

            async with client_of(app) as client:
                headers = {"X-Request-ID": "traced-1"}
                created = (await client.post(ITEMS, json=item_payload(), headers=headers)).json()
                for _ in range(2):  # a miss the route serves, then a hit answered before it
                    await client.get(f"{ITEMS}/{created['id']}")
                await client.get("/traced")
                await client.get("/livez")
            async with httpx.AsyncClient() as outbound:
                await outbound.get(f"{collector.url}/ping")
        lines = log_lines()

    spans = collector.spans()
    servers = [span for span in spans if span.kind == Span.SPAN_KIND_SERVER]
    server_names = {span.name for span in servers}
    assert {f"POST {ITEMS}", f"GET {ITEM_ROUTE}"} <= server_names
    assert len([span for span in servers if span.name == f"GET {ITEM_ROUTE}"]) == 2
    assert not any("livez" in name for name in server_names), "probes are not traced"
    (post,) = [span for span in servers if span.name == f"POST {ITEMS}"]
    attributes = {attribute.key: attribute.value.string_value for attribute in post.attributes}
    assert attributes["http.request.id"] == "traced-1"
    clients = {span.name.split()[0] for span in spans if span.kind == Span.SPAN_KIND_CLIENT}
    assert {"INSERT", "SELECT"} <= clients, "SQLAlchemy's queries"
    assert "GET" in clients, "httpx's call"
    (logged,) = [line for line in lines if line["message"] == "inside a span"]
    assert len(logged["trace_id"]) == 32
    assert len(logged["span_id"]) == 16
    exports = {(path, content_type) for path, content_type, _ in collector.received}
    assert ("/v1/traces", "application/x-protobuf") in exports


async def test_redis_commands_become_spans() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing.to_endpoint("http://127.0.0.1:1/v1/traces", exporter)
    engine = create_async_engine("sqlite+aiosqlite://")
    tracing.start(engine)
    try:
        client = FakeAsyncRedis()
        await client.set("traced", b"1")
        await client.aclose()
    finally:
        tracing.stop()
        await engine.dispose()

    assert "SET" in {span.name for span in exporter.get_finished_spans()}
