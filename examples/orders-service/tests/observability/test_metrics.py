"""/metrics serves Prometheus' text format: requests, cache lookups and the build."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families

from orders_service.observability import metrics


async def scrape(client: AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each sample of a scrape of /metrics, by sample name."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def test_request_metrics_are_served(client: AsyncClient) -> None:
    await client.get("/livez")

    samples = await scrape(client)

    requests = {
        (labels["method"], labels["route"], labels["status_class"])
        for labels, _ in samples["http_server_requests_total"]
    }
    assert ("GET", "/livez", "2xx") in requests
    assert samples["http_server_request_duration_seconds_bucket"]
    assert samples["http_server_active_requests"]
    assert "http_server_requests_created" not in samples


async def test_the_build_is_described(client: AsyncClient) -> None:
    (labels, value), *_ = (await scrape(client))["service_build_info"]

    assert labels["service"] == "orders-service"
    assert labels["version"]
    assert labels["python_version"].count(".") == 2
    assert value == 1


async def test_cache_lookups_are_counted(client: AsyncClient) -> None:
    def count(result: str) -> float:
        return REGISTRY.get_sample_value("cache_requests_total", {"result": result}) or 0.0

    created = (await client.post("/api/v1/items", json={"name": "Counted"})).json()
    hits, misses = count("hit"), count("miss")

    await client.get(f"/api/v1/items/{created['id']}")  # a miss fills the cache
    await client.get(f"/api/v1/items/{created['id']}")  # then a hit

    assert (count("hit") - hits, count("miss") - misses) == (1, 1)
    results = {labels["result"] for labels, _ in (await scrape(client))["cache_requests_total"]}
    assert results == {"hit", "miss"}


def test_unusual_statuses_get_a_class_of_their_own() -> None:
    labels = {"method": "GET", "route": "/teapot", "status_class": "other"}
    before = REGISTRY.get_sample_value("http_server_requests_total", labels) or 0.0

    method = metrics.HTTP_REQUESTS.started("GET")
    metrics.HTTP_REQUESTS.answered(method, "/teapot", 999, 0.001)

    assert REGISTRY.get_sample_value("http_server_requests_total", labels) == before + 1


def test_methods_outside_the_common_set_are_other() -> None:
    requests = metrics.HttpRequests()

    assert requests.started("PATCH") == "PATCH"
    assert requests.started("PROPFIND") == "OTHER"


def test_requests_are_exposed_as_prometheus_client_would() -> None:
    # The same requests counted by prometheus-client's own types: the scrape is the same,
    # so dashboards and alerts read the same series.
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    requests = metrics.HttpRequests()
    ours.register(requests)
    labels = ["method", "route", "status_class"]
    counter = Counter(
        "http_server_requests_total",
        "HTTP requests answered, by method, route template and status class",
        labels,
        registry=theirs,
    )
    histogram = Histogram(
        "http_server_request_duration_seconds",
        "Time from receiving an HTTP request to the end of its response",
        labels,
        buckets=metrics.LATENCY_BUCKETS,
        registry=theirs,
    )
    gauge = Gauge(
        "http_server_active_requests",
        "HTTP requests being answered, by method (the route is known only once routed)",
        ["method"],
        registry=theirs,
    )
    for method in sorted((*metrics.METHODS, metrics.OTHER_METHOD)):
        gauge.labels(method)
    answers = [
        ("GET", "/livez", 200, 0.005),  # on a bucket's bound: counted in that bucket
        ("GET", "/livez", 200, 0.0051),
        ("POST", "/api/v1/items", 201, 0.3),
        ("GET", "/api/v1/items/{item_id}", 404, 12.0),  # beyond the last bound: +Inf only
        ("PROPFIND", "unmatched", 405, 0.0),
        ("GET", "/teapot", 999, 0.001),  # two unusual statuses: one series, "other"
        ("GET", "/teapot", 600, 0.001),
    ]
    for method, route, status, seconds in answers:
        label = requests.started(method)
        requests.answered(label, route, status, seconds)
        status_class = f"{status // 100}xx" if status < 600 else "other"
        counter.labels(label, route, status_class).inc()
        histogram.labels(label, route, status_class).observe(seconds)
    requests.started("DELETE")
    gauge.labels("DELETE").inc()

    scraped = generate_latest(ours).decode().splitlines()
    assert scraped == generate_latest(theirs).decode().splitlines()


def test_metrics_stay_out_of_the_api_document(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]
