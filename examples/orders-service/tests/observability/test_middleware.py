"""The request metrics for every request, and its access line when asked for, cheaply."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi import FastAPI, HTTPException, Request, status
from httpx import AsyncClient
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send

from orders_service.observability.logging import (
    JsonFormatter,
    ServiceHandler,
)
from orders_service.observability.middleware import (
    ObservabilityMiddleware,
    add_response_headers,
)
from tests.factories import item_payload
from tests.logs import ACCESS_LOGGER, LogLines

ITEMS = "/api/v1/items"
ITEM_ROUTE = "/api/v1/items/{item_id}"


def requests_counted(method: str, route: str, status_class: str) -> float:
    labels = {"method": method, "route": route, "status_class": status_class}
    return REGISTRY.get_sample_value("http_server_requests_total", labels) or 0.0


def access_lines(log_lines: LogLines) -> list[dict[str, object]]:
    return [line for line in log_lines() if line["logger"] == ACCESS_LOGGER]


def add_boom(app: FastAPI) -> None:
    """`GET /boom`, a route failing with an error the app did not expect."""

    @app.get("/boom")
    async def boom() -> None:
        msg = "unexpected"
        raise RuntimeError(msg)


@pytest.mark.settings(access_log="all")
class TestAccessLog:
    async def test_one_line_per_request_with_its_fields(
        self, client: AsyncClient, log_lines: LogLines
    ) -> None:
        created = (await client.post(ITEMS, json=item_payload())).json()
        await client.get(f"{ITEMS}/{created['id']}?verbose=1", headers={"X-Request-ID": "access-1"})

        *_, line = access_lines(log_lines)
        assert len(access_lines(log_lines)) == 2
        assert line["level"] == "INFO"
        assert line["request_id"] == "access-1"
        assert line["method"] == "GET"
        assert line["route"] == ITEM_ROUTE
        assert line["path"] == f"{ITEMS}/{created['id']}", "the query string may hold secrets"
        assert line["status"] == 200
        assert isinstance(line["duration_ms"], float)
        assert line["client"] == "127.0.0.1"
        assert str(line["message"]).startswith(f"GET {ITEMS}/{created['id']} 200 ")

    async def test_unmatched_paths_share_one_route(
        self, client: AsyncClient, log_lines: LogLines
    ) -> None:
        await client.get("/wp-login.php")

        (line,) = access_lines(log_lines)
        assert (line["route"], line["status"]) == ("unmatched", 404)

    async def test_an_unexpected_error_is_logged_as_a_500(
        self, app: FastAPI, client: AsyncClient, log_lines: LogLines
    ) -> None:
        add_boom(app)

        await client.get("/boom")

        (line,) = access_lines(log_lines)
        assert (line["route"], line["status"]) == ("/boom", 500)

    @pytest.mark.parametrize("log_every_request", [True, False])
    async def test_a_request_left_unanswered_is_logged_as_499(
        self, log_lines: LogLines, log_every_request: bool
    ) -> None:
        async def hang_up(scope: Scope, receive: Receive, send: Send) -> None:
            """An app whose client went away before it answered."""

        scope: Scope = {"type": "http", "method": "GET", "path": "/gone", "headers": []}
        middleware = ObservabilityMiddleware(hang_up, log_every_request=log_every_request)
        await middleware(scope, receive_nothing, send_nowhere)

        (line,) = access_lines(log_lines)
        assert (line["status"], line["client"]) == (499, None)

    async def test_the_usual_set_up_gets_the_same_line_directly(self, client: AsyncClient) -> None:
        root = logging.getLogger()
        others = root.handlers[:]
        stream = io.StringIO()
        handler = ServiceHandler(stream)
        handler.setFormatter(JsonFormatter())
        root.handlers[:] = [handler]
        try:
            await client.get("/livez", headers={"X-Request-ID": "direct-1"})
        finally:
            root.handlers[:] = others

        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        (line,) = [line for line in lines if line["logger"] == ACCESS_LOGGER]
        assert line["request_id"] == "direct-1"
        assert (line["route"], line["status"], line["client"]) == ("/livez", 200, "127.0.0.1")
        assert str(line["message"]).startswith("GET /livez 200 ")

    async def test_no_line_when_the_access_logger_is_quiet(
        self, client: AsyncClient, log_lines: LogLines, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("WARNING", logger=ACCESS_LOGGER)

        await client.get("/livez")

        assert not access_lines(log_lines)


class TestAccessLogByDefault:
    """Lines for what was refused, failed or slow; the rest is only counted."""

    async def test_no_line_for_a_quick_answer_below_400(
        self, client: AsyncClient, log_lines: LogLines
    ) -> None:
        created = await client.post(ITEMS, json=item_payload())
        read = await client.get(f"{ITEMS}/{created.json()['id']}")
        live = await client.get("/livez")

        assert [created.status_code, read.status_code, live.status_code] == [201, 200, 200]
        assert not access_lines(log_lines)

    async def test_a_line_for_each_refusal_and_failure(
        self, app: FastAPI, client: AsyncClient, log_lines: LogLines
    ) -> None:
        add_boom(app)

        await client.get("/livez")
        await client.get(f"{ITEMS}/not-an-id", headers={"X-Request-ID": "refused-1"})
        await client.get("/boom")

        lines = access_lines(log_lines)
        assert [(line["route"], line["status"]) for line in lines] == [
            (ITEM_ROUTE, 422),
            ("/boom", 500),
        ]
        assert lines[0]["request_id"] == "refused-1"

    @pytest.mark.settings(access_log_slow_seconds=0)
    async def test_a_line_for_a_slow_answer(self, client: AsyncClient, log_lines: LogLines) -> None:
        await client.get("/livez")

        (line,) = access_lines(log_lines)
        assert (line["route"], line["status"]) == ("/livez", 200)


class TestRequestMetrics:
    async def test_counted_by_method_route_and_status_class(self, client: AsyncClient) -> None:
        before = requests_counted("GET", ITEM_ROUTE, "4xx")

        await client.get(f"{ITEMS}/00000000-0000-0000-0000-000000000000")

        assert requests_counted("GET", ITEM_ROUTE, "4xx") == before + 1

    async def test_unknown_methods_and_paths_add_no_series(self, client: AsyncClient) -> None:
        before = requests_counted("OTHER", "unmatched", "4xx")

        await client.request("BREW", "/coffee-pot-1")
        await client.request("BREW", "/coffee-pot-2")

        assert requests_counted("OTHER", "unmatched", "4xx") == before + 2
        samples = {s.labels.get("route") for m in REGISTRY.collect() for s in m.samples}
        assert "/coffee-pot-1" not in samples

    async def test_latency_is_observed(self, client: AsyncClient) -> None:
        labels = {"method": "GET", "route": "/livez", "status_class": "2xx"}
        before = REGISTRY.get_sample_value("http_server_request_duration_seconds_count", labels)

        await client.get("/livez")

        after = REGISTRY.get_sample_value("http_server_request_duration_seconds_count", labels)
        assert after == (before or 0) + 1

    async def test_in_flight_requests_are_gauged(self, app: FastAPI, client: AsyncClient) -> None:
        seen: list[float | None] = []

        @app.get("/slow")
        async def slow() -> None:
            seen.append(REGISTRY.get_sample_value("http_server_active_requests", {"method": "GET"}))

        await client.get("/slow")

        assert seen[0] is not None
        assert seen[0] >= 1
        assert REGISTRY.get_sample_value("http_server_active_requests", {"method": "GET"}) == (
            seen[0] - 1
        )


async def test_headers_asked_for_while_serving_reach_the_response_errors_included(
    app: FastAPI, client: AsyncClient
) -> None:
    @app.get("/refused")
    async def refused(request: Request) -> None:
        add_response_headers(request.scope, lambda: [(b"x-first", b"1")])
        add_response_headers(request.scope, lambda: [(b"x-second", b"2")])
        raise HTTPException(status.HTTP_409_CONFLICT, "taken")

    response = await client.get("/refused", headers={"X-Request-ID": "added-1"})

    assert response.status_code == status.HTTP_409_CONFLICT
    assert (response.headers["x-first"], response.headers["x-second"]) == ("1", "2")
    assert response.headers["x-request-id"] == "added-1"


async def test_other_protocols_pass_through() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    await ObservabilityMiddleware(app)({"type": "lifespan"}, receive_nothing, send_nowhere)

    assert calls == ["lifespan"]


async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}


async def send_nowhere(message: Message) -> None:
    """Drop the message."""
