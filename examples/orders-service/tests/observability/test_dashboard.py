"""The Grafana dashboard is valid JSON and charts only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from orders_service.observability import metrics

DASHBOARDS = Path(__file__).parents[2] / "dashboards"
DASHBOARD = DASHBOARDS / "orders-service.json"
# A metric name is what stands before a `{...}` selector; the dashboard always filters by job.
SELECTED = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def queries() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def exported() -> set[str]:
    """Every sample name the service's own metrics can produce."""
    method = metrics.HTTP_REQUESTS.started("GET")
    metrics.HTTP_REQUESTS.answered(method, "/dashboard-test", 200, 0.001)
    metrics.record_rate_limited("dashboard-test")
    return {
        sample.name
        for family in REGISTRY.collect()
        if family.name.startswith(("http_server_", "cache_", "rate_limit_", "service_"))
        for sample in family.samples
    }


def test_charts_only_exported_metrics() -> None:
    charted = {name for query in queries() for name in SELECTED.findall(query)}

    assert charted
    assert charted <= exported(), f"not exported: {charted - exported()}"


def test_charts_every_metric_of_the_service() -> None:
    text = " ".join(queries())

    missing = {name for name in exported() if name.rsplit("_", 1)[0] not in text}

    assert not missing, f"not charted: {missing}"
