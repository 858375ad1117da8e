"""OpenTelemetry tracing: off unless an OTLP endpoint is configured.

Without an endpoint, nothing is loaded, instrumented or started: no exporter, no thread,
no cost per request. With one, `otel.Tracing` exports spans over OTLP/HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config import Settings

if TYPE_CHECKING:
    from .otel import Tracing

TRACES_PATH = "/v1/traces"


def traces_endpoint(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """Where spans go: the setting, else OpenTelemetry's standard variables, else nowhere."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if settings.otlp_endpoint:
        return settings.otlp_endpoint.rstrip("/") + TRACES_PATH
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + TRACES_PATH
    return None


def create_tracing(settings: Settings) -> Tracing | None:
    """Tracing to the configured endpoint, or None when there is none."""
    endpoint = traces_endpoint(settings)
    if endpoint is None:
        return None
    # The SDK and the instrumentations take most of a second to import: only when used.
    from .otel import Tracing  # noqa: PLC0415

    return Tracing.to_endpoint(endpoint)
