"""The sliding-window rate limit: its arithmetic, its counts, and 429s through the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from httpx import AsyncClient
from prometheus_client import REGISTRY
from pydantic import ValidationError

from orders_service.config import Settings
from orders_service.rate_limit import (
    MemoryWindowCounts,
    RateLimiter,
    create_window_counts,
    open_rate_limiter,
    seconds_until_room,
)
from tests.apps import client_of, make_settings, running_app

ITEMS = "/api/v1/items"
PROBLEM = "application/problem+json"


class FakeClock:
    def __init__(self, now: float = 1_000_020.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(requests: int = 10, clock: FakeClock | None = None) -> RateLimiter:
    return RateLimiter(MemoryWindowCounts(), requests, 60, clock=clock or FakeClock())


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

    async def test_the_previous_window_weighs_as_it_slides_out(self) -> None:
        # Windows start at multiples of 60 s: 1_000_020 is 0 s into one.
        clock = FakeClock(1_000_020.0 + 30)
        limit = limiter(requests=10, clock=clock)
        for _ in range(10):
            assert (await limit.hit("c")).admitted

        clock.now += 30  # the next window starts: the previous one still weighs in full
        refused = await limit.hit("c")
        assert not refused.admitted
        # 10 x (1 - 6/60) + 0 + 1 <= 10 six seconds into the window.
        assert refused.retry_after_seconds == 6

        clock.now += 6
        assert (await limit.hit("c")).admitted
        assert not (await limit.hit("c")).admitted

    async def test_a_full_window_waits_into_the_next(self) -> None:
        clock = FakeClock()
        limit = limiter(requests=3, clock=clock)
        for _ in range(3):
            await limit.hit("d")

        refused = await limit.hit("d")

        # 60 s to the next window, then 3 x (1 - e/60) + 1 <= 3 from e = 20 s.
        assert refused.retry_after_seconds == 80
        assert refused.headers() == {
            "RateLimit-Limit": "3",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "80",
            "Retry-After": "80",
        }
        clock.now += 80
        assert (await limit.hit("d")).admitted

    async def test_an_admitted_request_reports_its_window(self) -> None:
        decision = await limiter(requests=5, clock=FakeClock(1_000_020.0 + 45.5)).hit("e")

        assert decision.headers() == {
            "RateLimit-Limit": "5",
            "RateLimit-Remaining": "4",
            "RateLimit-Reset": "15",
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

    @pytest.mark.parametrize(
        ("previous", "current", "elapsed", "expected"),
        [(10, 0, 0.0, 6.0), (10, 5, 30.0, 6.0), (0, 10, 10.0, 56.0), (4, 9, 0.0, 60.0)],
    )
    def test_seconds_until_room(
        self, previous: int, current: int, elapsed: float, expected: float
    ) -> None:
        waited = seconds_until_room(10, 60, elapsed, previous, current)

        assert waited == pytest.approx(expected)


class TestMemoryWindowCounts:
    async def test_forgets_the_least_recently_seen_clients_past_its_bound(self) -> None:
        counts = MemoryWindowCounts(max_keys=2)
        await counts.hit("a", 1, 0, 1.0, 60)
        await counts.hit("b", 1, 0, 1.0, 60)
        await counts.hit("a", 1, 0, 1.0, 60)

        await counts.hit("c", 1, 0, 1.0, 60)

        assert await counts.hit("b", 1, 0, 1.0, 60) == (True, 0, 1), "b was forgotten"
        assert await counts.hit("a", 1, 0, 1.0, 60) == (True, 0, 1), "then a, the oldest"
        await counts.close()


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    """A client of an app that admits two requests per client per minute."""
    # Counted in this process even when the suite runs against Redis: no test sees another's.
    limited = settings.model_copy(
        update={
            "cache_url": "memory://",
            "rate_limit_requests": 2,
            "rate_limit_key_header": "X-API-Key",
        }
    )
    async with running_app(limited) as app, client_of(app) as client:
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
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["x-request-id"]
        after = REGISTRY.get_sample_value("rate_limit_rejected_requests_total", {"scope": "api"})
        assert after == (before or 0) + 1

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
    def test_the_client_address_by_default(self) -> None:
        limit = limiter()

        assert limit.client_key(request_from(("203.0.113.7", 4711), {})) == "ip:203.0.113.7"
        assert limit.client_key(request_from(None, {})) == "ip:unknown"

    def test_a_header_when_configured_hashed(self) -> None:
        limit = RateLimiter(MemoryWindowCounts(), 10, 60, key_header="X-API-Key")

        key = limit.client_key(request_from(("203.0.113.7", 4711), {"X-API-Key": "s3cr3t"}))
        fallback = limit.client_key(request_from(("203.0.113.7", 4711), {}))

        assert key.startswith("key:")
        assert "s3cr3t" not in key
        assert fallback == "ip:203.0.113.7"


async def test_no_limiter_when_disabled() -> None:
    async with open_rate_limiter(make_settings(rate_limit_enabled=False)) as limit:
        assert limit is None


def test_counts_live_in_this_process_with_a_memory_cache() -> None:
    counts = create_window_counts(make_settings(cache_url="memory://"))

    assert isinstance(counts, MemoryWindowCounts)


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
