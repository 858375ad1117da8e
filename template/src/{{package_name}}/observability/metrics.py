"""Prometheus metrics: HTTP requests, cache lookups, rate-limit refusals and the build.

Every label has a bounded set of values (methods, route templates, status classes), so
the number of series stays fixed however many distinct URLs clients send.
"""

from __future__ import annotations

import platform
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# One `_created` series per counter and histogram doubles the series for nothing a
# dashboard uses. (prometheus-client leaves this function unannotated.)
disable_created_metrics()  # type: ignore[no-untyped-call]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
# The route label of requests no route matched (their paths would be unbounded).
UNMATCHED_ROUTE = "unmatched"
# Seconds; dense below 100 ms, where a cached read should answer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CACHE_REQUESTS = Counter(
    "cache_requests_total", "Cache-aside lookups, by result: hit or miss", ["result"]
)
RATE_LIMITED = Counter(
    "rate_limit_rejected_requests_total",
    "Requests refused with 429 by a rate limit, by the limit's scope",
    ["scope"],
)
BUILD = Info("service_build", "The running service: name, version and Python version")

_CACHE_HIT = CACHE_REQUESTS.labels("hit")
_CACHE_MISS = CACHE_REQUESTS.labels("miss")


class HttpRequests(Collector):
    """The HTTP request metrics: requests answered (a counter) and their durations (a
    histogram) by method, route template and status class, and those being answered (a
    gauge) by method.

    Counted as plain numbers and described in Prometheus' types only when scraped: a
    request costs two calls here, where prometheus-client's counter, histogram and gauge
    children take about twenty between them (each lock, each check) for the same samples
    (docs/architecture.md). Only the event loop counts (the observability middleware) and
    scrapes (/metrics), so no lock is needed.
    """

    def __init__(self) -> None:
        self._active = dict.fromkeys(sorted((*METHODS, OTHER_METHOD)), 0)
        # Per (method, route, status class): one count per bucket, +Inf's last, then the sum.
        self._answered: dict[tuple[str, str, str], list[float]] = {}

    def started(self, method: str) -> str:
        """Count a request being answered; its method label (OTHER outside the common set)."""
        label = method if method in METHODS else OTHER_METHOD
        self._active[label] += 1
        return label

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count the answer to a request `started` labelled `method`, and its duration."""
        self._active[method] -= 1
        key = (method, route, _STATUS_CLASSES.get(status // 100, "other"))
        counts = self._answered.get(key)
        if counts is None:
            counts = self._answered[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        requests, durations, active = self._families()
        for labels, counts in self._answered.items():
            cumulative = list(accumulate(counts[:-1]))
            requests.add_metric(labels, cumulative[-1])
            buckets = list(zip(_BUCKET_NAMES, cumulative, strict=True))
            durations.add_metric(labels, buckets, counts[-1])
        for method, count in self._active.items():
            active.add_metric([method], count)
        yield from (requests, durations, active)

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, HistogramMetricFamily, GaugeMetricFamily]:
        labels = ["method", "route", "status_class"]
        return (
            CounterMetricFamily(
                "http_server_requests",
                "HTTP requests answered, by method, route template and status class",
                labels=labels,
            ),
            HistogramMetricFamily(
                "http_server_request_duration_seconds",
                "Time from receiving an HTTP request to the end of its response",
                labels=labels,
            ),
            GaugeMetricFamily(
                "http_server_active_requests",
                "HTTP requests being answered, by method (the route is known only once routed)",
                labels=["method"],
            ),
        )


_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_BUCKET_NAMES = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]

HTTP_REQUESTS = HttpRequests()
REGISTRY.register(HTTP_REQUESTS)


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
