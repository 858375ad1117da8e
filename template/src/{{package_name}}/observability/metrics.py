"""Prometheus metrics: HTTP requests, cache lookups, rate-limit refusals and the build.

Every label has a bounded set of values (methods, route templates, status classes), so
the number of series stays fixed however many distinct URLs clients send.
"""

from __future__ import annotations

import platform

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)

# One `_created` series per counter and histogram doubles the series for nothing a
# dashboard uses. (prometheus-client leaves this function unannotated.)
disable_created_metrics()  # type: ignore[no-untyped-call]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
# The route label of requests no route matched (their paths would be unbounded).
UNMATCHED_ROUTE = "unmatched"
# Seconds; dense below 100 ms, where a cached read should answer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "http_server_requests_total",
    "HTTP requests answered, by method, route template and status class",
    ["method", "route", "status_class"],
)
REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response",
    ["method", "route", "status_class"],
    buckets=LATENCY_BUCKETS,
)
ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests",
    "HTTP requests being answered, by method (the route is known only once routed)",
    ["method"],
)
CACHE_REQUESTS = Counter(
    "cache_requests_total", "Cache-aside lookups, by result: hit or miss", ["result"]
)
RATE_LIMITED = Counter(
    "rate_limit_rejected_requests_total",
    "Requests refused with 429 by a rate limit, by the limit's scope",
    ["scope"],
)
BUILD = Info("service_build", "The running service: name, version and Python version")

# Children resolved once: a request then costs two dictionary look-ups, not label parsing.
_ACTIVE = {method: ACTIVE_REQUESTS.labels(method) for method in (*METHODS, OTHER_METHOD)}
_CACHE_HIT = CACHE_REQUESTS.labels("hit")
_CACHE_MISS = CACHE_REQUESTS.labels("miss")
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_by_request: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def method_label(method: str) -> str:
    """The method, or OTHER for methods outside HTTP's common set."""
    return method if method in METHODS else OTHER_METHOD


def active_requests(method: str) -> Gauge:
    """The in-flight gauge of a method label (from `method_label`)."""
    return _ACTIVE[method]


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count an answered request and its duration."""
    key = (method, route, status // 100)
    children = _by_request.get(key)
    if children is None:
        status_class = _STATUS_CLASSES.get(status // 100, "other")
        children = (
            REQUESTS.labels(method, route, status_class),
            REQUEST_DURATION.labels(method, route, status_class),
        )
        _by_request[key] = children
    children[0].inc()
    children[1].observe(seconds)


def record_cache_hit() -> None:
    _CACHE_HIT.inc()


def record_cache_miss() -> None:
    _CACHE_MISS.inc()


def record_rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope).inc()


def record_build(service: str, version: str) -> None:
    BUILD.info(
        {"service": service, "version": version, "python_version": platform.python_version()}
    )


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def serve_metrics() -> Response:
    """Every metric of this process, in Prometheus' text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
