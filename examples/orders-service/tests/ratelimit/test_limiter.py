"""The sliding-window rate limit: its arithmetic, its log, and its headers through the app."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import pytest
from fastapi import FastAPI, Request
from httpx import AsyncClient
from prometheus_client import REGISTRY
from pydantic import ValidationError

from orders_service.config import Settings
from orders_service.ratelimit.limiter import (
    Decision,
    MemoryRequestLog,
    RateLimiter,
    api_rate_limit,
    create_request_log,
    limit_headers,
    open_rate_limiter,
)
from orders_service.state import (
    app_state,
)
from tests.apps import client_of, delete_all_rows, make_settings, running_app

ITEMS = "/api/v1/items"
PROBLEM = "application/problem+json"


class FakeClock:
    def __init__(self, now: float = 1_000_020.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(requests: int = 10, clock: FakeClock | None = None) -> RateLimiter:
    return RateLimiter(MemoryRequestLog(), requests, 60, clock=clock or FakeClock())


class TestSlidingWindow:
    async def test_admits_the_limit_then_refuses(self) -> None:
        limit = limiter(requests=3)

        decisions = [await limit.hit("client") for _ in range(4)]

        assert [d.admitted for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]

    async def test_clients_are_counted_apart(self) -> None:
        limit = limiter(requests=1)

        assert (await limit.hit("a")).admitted
        assert (await limit.hit("b")).admitted
        assert not (await limit.hit("a")).admitted

    async def test_requests_leave_the_window_one_by_one(self) -> None:
        clock = FakeClock()
        limit = limiter(requests=3, clock=clock)
        for _ in range(3):
            assert (await limit.hit("c")).admitted
            clock.now += 10

        refused = await limit.hit("c")  # at 30 s: the first request leaves at 60 s

        assert refused.headers() == {
            "RateLimit-Limit": "3",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "30",
            "Retry-After": "30",
        }
        clock.now += 30
        assert (await limit.hit("c")).admitted
        assert (await limit.hit("c")).retry_after_seconds == 10, "the second leaves at 70 s"

    @pytest.mark.parametrize("requests", [1, 2, 10])
    @pytest.mark.parametrize("spacing", [0.0, 0.4, 5.5])
    async def test_retry_after_is_exact_and_never_more_than_the_window(
        self, requests: int, spacing: float
    ) -> None:
        # 28 s into a fixed minute, where the two-count limiter this replaced told 62 s.
        clock = FakeClock(1_000_020.0 + 28)
        limit = limiter(requests=requests, clock=clock)
        for _ in range(requests):
            assert (await limit.hit("d")).admitted
            clock.now += spacing

        refused = await limit.hit("d")

        wait = refused.retry_after_seconds
        assert not refused.admitted
        assert wait == math.ceil(60 - requests * spacing) <= 60, "when the first one leaves"
        clock.now += wait - 1
        assert not (await limit.hit("d")).admitted, "a second sooner"
        clock.now += 1
        assert (await limit.hit("d")).admitted

    async def test_an_admitted_request_reports_when_the_oldest_leaves(self) -> None:
        clock = FakeClock()
        limit = limiter(requests=5, clock=clock)
        await limit.hit("e")
        clock.now += 15.5

        decision = await limit.hit("e")

        assert decision.headers() == {
            "RateLimit-Limit": "5",
            "RateLimit-Remaining": "3",
            "RateLimit-Reset": "45",
        }

    async def test_a_long_pause_forgets_everything(self) -> None:
        clock = FakeClock()
        limit = limiter(requests=2, clock=clock)
        for _ in range(3):
            await limit.hit("f")

        clock.now += 600

        assert (await limit.hit("f")).remaining == 1

    async def test_limits_can_differ_by_call(self) -> None:
        limit = limiter(requests=100)

        assert (await limit.hit("g", requests=1, window_seconds=1)).admitted
        assert not (await limit.hit("g", requests=1, window_seconds=1)).admitted


class TestMemoryRequestLog:
    async def test_answers_with_the_oldest_request_counted_against_the_limit(self) -> None:
        log = MemoryRequestLog()
        for now in (0.0, 1.0, 2.0):
            await log.hit("k", now, 5, 60)

        # A lower limit (a redeploy): of the three inside the window, the older two count.
        assert await log.hit("k", 3.0, 2, 60) == (False, 3, 1.0)
        assert await log.hit("k", 60.0, 5, 60) == (True, 3, 1.0), "the first one left"
        await log.close()

    async def test_forgets_the_least_recently_seen_clients_past_its_bound(self) -> None:
        log = MemoryRequestLog(max_logged=3)
        await log.hit("a", 0.0, 5, 60)
        await log.hit("b", 1.0, 5, 60)
        await log.hit("a", 2.0, 5, 60)

        await log.hit("c", 3.0, 5, 60)

        assert await log.hit("b", 4.0, 5, 60) == (True, 1, 4.0), "b was forgotten"
        assert await log.hit("a", 5.0, 5, 60) == (True, 1, 5.0), "then a, the oldest"
        await log.close()


def test_the_headers_are_those_of_the_limit_closest_to_refusing() -> None:
    roomy = Decision(True, 100, 60, 90, 30)
    tight = Decision(True, 10, 60, 2, 50)
    refused = Decision(False, 5, 1, 0, 1, 1)

    assert limit_headers({"api": roomy, "search": tight}) == [
        (b"ratelimit-limit", b"10"),
        (b"ratelimit-remaining", b"2"),
        (b"ratelimit-reset", b"50"),
    ]
    assert (b"retry-after", b"1") in limit_headers({"api": roomy, "burst": refused})
    assert limit_headers({}) == [], "no limit decided: no headers"


@asynccontextmanager
async def client_limited_to(settings: Settings, requests: int) -> AsyncIterator[AsyncClient]:
    """A client of an app that admits `requests` per client per minute."""
    # Counted in this process even when the suite runs against Redis: no test sees another's.
    limited = settings.model_copy(
        update={
            "cache_url": "memory://",
            "rate_limit_requests": requests,
            "rate_limit_key_header": "X-API-Key",
        }
    )
    async with running_app(limited) as app:
        async with client_of(app) as client:
            yield client
        await delete_all_rows(app_state(app))


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with client_limited_to(settings, requests=2) as client:
        yield client


@pytest.fixture
async def counted_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with client_limited_to(settings, requests=600) as client:
        yield client


class TestThroughTheApp:
    async def test_past_the_limit_the_api_answers_429(self, limited_client: AsyncClient) -> None:
        before = REGISTRY.get_sample_value("rate_limit_rejected_requests_total", {"scope": "api"})

        responses = [await limited_client.get(ITEMS) for _ in range(3)]

        assert [r.status_code for r in responses] == [200, 200, 429]
        assert responses[0].headers["ratelimit-limit"] == "2"
        assert responses[0].headers["ratelimit-remaining"] == "1"
        refused = responses[2]
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["title"] == "Too Many Requests"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["x-request-id"]
        after = REGISTRY.get_sample_value("rate_limit_rejected_requests_total", {"scope": "api"})
        assert after == (before or 0) + 1

    async def test_every_response_carries_the_headers_and_counts_once(
        self, counted_client: AsyncClient
    ) -> None:
        post, json = counted_client.post, {"content-type": "application/json"}
        created = await post(ITEMS, json={"name": "Counted"})
        url = f"{ITEMS}/{created.json()['id']}"
        responses = [
            created,
            await post(ITEMS, json={"name": "Counted"}),  # 409
            await post(ITEMS, content=b"{", headers=json),  # 400
            await post(ITEMS, content=b"name", headers={"content-type": "text/plain"}),  # 415
            await post(ITEMS, json={"name": " Counted "}),  # 422
            await counted_client.get(f"{ITEMS}/{uuid4()}"),  # 404
            await counted_client.get(url),
            await counted_client.delete(url),  # 204
        ]

        assert [r.status_code for r in responses] == [201, 409, 400, 415, 422, 404, 200, 204]
        for response in responses:
            assert response.headers["ratelimit-limit"] == "600", response.status_code
            assert 1 <= int(response.headers["ratelimit-reset"]) <= 60, response.status_code
        remaining = [int(r.headers["ratelimit-remaining"]) for r in responses]
        assert remaining == list(range(599, 591, -1)), "each request counted once"

    async def test_a_body_is_read_only_after_the_limit_admits_it(
        self, limited_client: AsyncClient
    ) -> None:
        for _ in range(2):
            await limited_client.get(ITEMS)

        malformed = await limited_client.post(
            ITEMS, content=b"{", headers={"content-type": "application/json"}
        )

        assert malformed.status_code == 429
        assert int(malformed.headers["retry-after"]) <= 60

    async def test_an_overridden_limit_is_not_applied_early(self, settings: Settings) -> None:
        async def no_limit() -> None:
            return None

        once = settings.model_copy(update={"cache_url": "memory://", "rate_limit_requests": 1})
        async with running_app(once) as app, client_of(app) as client:
            app.dependency_overrides[api_rate_limit] = no_limit
            malformed = [
                await client.post(ITEMS, content=b"{", headers={"content-type": "application/json"})
                for _ in range(2)
            ]

        assert [r.status_code for r in malformed] == [400, 400]
        assert "ratelimit-limit" not in malformed[1].headers

    async def test_probes_are_not_limited(self, limited_client: AsyncClient) -> None:
        responses = [await limited_client.get("/livez") for _ in range(5)]

        assert {r.status_code for r in responses} == {200}
        assert "ratelimit-limit" not in responses[0].headers

    async def test_the_key_header_counts_callers_apart(self, limited_client: AsyncClient) -> None:
        for _ in range(2):
            await limited_client.get(ITEMS, headers={"X-API-Key": "first"})

        refused = await limited_client.get(ITEMS, headers={"X-API-Key": "first"})
        other = await limited_client.get(ITEMS, headers={"X-API-Key": "second"})

        assert (refused.status_code, other.status_code) == (429, 200)

    async def test_off_when_disabled(self, settings: Settings) -> None:
        disabled = settings.model_copy(update={"rate_limit_enabled": False})
        async with running_app(disabled) as app, client_of(app) as client:
            response = await client.get(ITEMS)

        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers

    def test_429_is_documented_on_limited_routes(self, app: FastAPI) -> None:
        paths = app.openapi()["paths"]

        for method, operation in paths[ITEMS].items():
            documented = operation["responses"]["429"]
            assert PROBLEM in documented["content"], method
            assert {"Retry-After", "RateLimit-Limit"} <= documented["headers"].keys()
        assert "429" not in paths["/livez"]["get"]["responses"]


def request_from(client: tuple[str, int] | None, headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "client": client, "headers": raw})


class TestClientKey:
    async def test_the_client_address_by_default(self) -> None:
        limit = limiter()

        assert await limit.client_key(request_from(("203.0.113.7", 4711), {})) == "ip:203.0.113.7"
        assert await limit.client_key(request_from(None, {})) == "ip:unknown"

    async def test_a_header_when_configured_hashed(self) -> None:
        limit = RateLimiter(MemoryRequestLog(), 10, 60, key_header="X-API-Key")

        key = await limit.client_key(request_from(("203.0.113.7", 4711), {"X-API-Key": "s3cr3t"}))
        fallback = await limit.client_key(request_from(("203.0.113.7", 4711), {}))

        assert key.startswith("key:")
        assert "s3cr3t" not in key
        assert fallback == "ip:203.0.113.7"

    async def test_the_caller_an_identity_names_hashed(self) -> None:
        async def identify(request: Request) -> str | None:
            return request.headers.get("x-caller")

        limit = RateLimiter(MemoryRequestLog(), 10, 60, identify=identify)
        here, there = ("203.0.113.7", 4711), ("198.51.100.2", 4711)

        alice_here = await limit.client_key(request_from(here, {"X-Caller": "alice@example.com"}))
        alice_there = await limit.client_key(request_from(there, {"X-Caller": "alice@example.com"}))
        bob_here = await limit.client_key(request_from(here, {"X-Caller": "bob@example.com"}))
        nobody = await limit.client_key(request_from(here, {}))

        assert alice_here == alice_there
        assert alice_here.startswith("caller:")
        assert "alice" not in alice_here
        assert bob_here != alice_here
        assert nobody == "ip:203.0.113.7"


async def test_no_limiter_when_disabled() -> None:
    async with open_rate_limiter(make_settings(rate_limit_enabled=False)) as limit:
        assert limit is None


def test_the_log_lives_in_this_process_with_a_memory_cache() -> None:
    log = create_request_log(make_settings(cache_url="memory://"))

    assert isinstance(log, MemoryRequestLog)


@pytest.mark.parametrize(
    "overrides",
    [
        {"rate_limit_requests": 0},
        {"rate_limit_window_seconds": 0},
        {"rate_limit_key_header": "X Key"},
    ],
)
def test_bad_limits_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make_settings(**overrides)
