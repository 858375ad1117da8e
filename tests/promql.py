"""Metric names: those PromQL expressions select, and those a rendered service exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser

# Sample names Prometheus' client derives from each kind of metric a service declares.
SAMPLE_SUFFIXES = {
    "Counter": ("",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count"),
    "Info": ("_info",),
    # What a custom collector describes (prometheus_client.core); a counter's name is given
    # without its `_total`, which the client strips anyway.
    "CounterMetricFamily": ("_total",),
    "GaugeMetricFamily": ("",),
    "HistogramMetricFamily": ("_bucket", "_sum", "_count"),
}
DECLARATION = re.compile(rf"\b({'|'.join(SAMPLE_SUFFIXES)})\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
# Grafana's variables, replaced by what PromQL can parse.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m"}


def selected_metrics(expr: str) -> set[str]:
    """The metric names expr selects; a ValueError if it is not PromQL."""
    names: set[str] = set()
    pending: list[Any] = [promql_parser.parse(expr)]
    while pending:
        node = pending.pop()
        if type(node).__name__ == "VectorSelector" and node.name:
            names.add(node.name)
        for child in ("lhs", "rhs", "expr", "vector_selector", "param"):
            value = getattr(node, child, None)
            if value is not None and not isinstance(value, str | int | float):
                pending.append(value)
        pending.extend(getattr(node, "args", None) or [])
    return names


def grafana_expr(expr: str) -> str:
    """A Grafana query as PromQL: its interval variables by durations, others by a value."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return re.sub(r"\$\{?[A-Za-z_]+\}?", "any", expr)


def exported_metrics(project: Path) -> set[str]:
    """The sample names the rendered service's metrics module declares."""
    (module,) = project.glob("src/*/observability/metrics.py")
    return {
        (name.removesuffix("_total") if kind == "CounterMetricFamily" else name) + suffix
        for kind, name in DECLARATION.findall(module.read_text())
        for suffix in SAMPLE_SUFFIXES[kind]
    }
