"""The OpenTelemetry SDK's side of tracing (see `tracing`, which loads this only when used).

Requests (FastAPI), queries (SQLAlchemy), Redis commands and outbound HTTP calls (httpx)
become spans, exported in batches over OTLP/HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncEngine

from ..config import SERVICE
from .request_id import request_id_var

# Probes and scrapes: frequent, and of no interest in a trace.
EXCLUDED_URLS = "/livez,/readyz,/metrics"


def service_resource() -> Resource:
    """This service's name and version; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win."""
    resource = Resource.create({SERVICE_VERSION: version(SERVICE)})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
    return resource


def _tag_request_id(span: Span, _scope: Mapping[str, object]) -> None:
    """Put the request ID on the request's span, so a trace leads to its log lines."""
    request_id = request_id_var.get()
    if request_id is not None and span.is_recording():
        span.set_attribute("http.request.id", request_id)


class Tracing:
    """One tracer provider and the instrumentations that feed it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    @classmethod
    def to_endpoint(cls, endpoint: str, exporter: SpanExporter | None = None) -> Tracing:
        """Tracing whose spans go to `endpoint` (or to `exporter`, in tests)."""
        provider = TracerProvider(resource=service_resource())
        exporter = exporter or OTLPSpanExporter(endpoint=endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    def instrument_app(self, app: FastAPI) -> None:
        """Trace the app's requests; call before it serves its first request."""
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=EXCLUDED_URLS,
            server_request_hook=_tag_request_id,
        )

    def start(self, engine: AsyncEngine) -> None:
        """Trace the database's queries and the process's outbound calls."""
        # The instrumentations' version checks lag behind their libraries; the tests prove
        # the spans arrive.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True
        )
        HTTPXClientInstrumentor().instrument(tracer_provider=self.provider, skip_dep_check=True)
        RedisInstrumentor().instrument(tracer_provider=self.provider, skip_dep_check=True)

    def stop(self) -> None:
        """Undo `start` and send the spans still buffered."""
        RedisInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()
        SQLAlchemyInstrumentor().uninstrument()
        self.provider.shutdown()
