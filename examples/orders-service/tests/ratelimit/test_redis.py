"""The rate-limit log in Redis: shared, atomic, failing open (fakeredis, or TEST_CACHE_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from fakeredis import FakeAsyncRedis
from redis.asyncio import Redis

from orders_service.core.resilience import (
    BreakerState,
    CircuitBreaker,
)
from orders_service.ratelimit.limiter import (
    MemoryRequestLog,
    RateLimiter,
    create_request_log,
)
from orders_service.ratelimit.redis import RedisRequestLog
from tests.apps import make_settings


def redis_client() -> Redis:
    url = os.environ.get("TEST_CACHE_URL", "")
    return Redis.from_url(url) if url.startswith("redis") else FakeAsyncRedis()


@pytest.fixture
async def log() -> AsyncIterator[RedisRequestLog]:
    # A prefix of its own: a real server keeps logs from earlier runs for a window.
    log = RedisRequestLog(redis_client(), prefix=f"test-{uuid.uuid4().hex}:")
    yield log
    await log.close()


async def test_answers_as_the_memory_log_does(log: RedisRequestLog) -> None:
    hits = [(0.0, 2), (1.5, 2), (2.0, 2), (60.0, 2), (61.0, 2), (61.5, 1)]
    memory = MemoryRequestLog()

    results = [await log.hit("client", now, limit, 60) for now, limit in hits]

    assert results == [await memory.hit("client", now, limit, 60) for now, limit in hits]
    assert results == [
        (True, 1, 0.0),
        (True, 2, 0.0),
        (False, 2, 0.0),
        (True, 2, 1.5),  # the first left at 60 s
        (False, 2, 1.5),
        (False, 1, 60.0),  # a lower limit: the newest counts
    ]


async def test_replicas_share_the_log(log: RedisRequestLog) -> None:
    """Two limiters, as in two pods, over one Redis: the limit holds across both."""
    replicas = [RateLimiter(log, 5, 60, clock=lambda: 1_000_021.0) for _ in range(2)]

    decisions = await asyncio.gather(*(replicas[n % 2].hit("shared") for n in range(8)))

    assert sum(decision.admitted for decision in decisions) == 5


async def test_a_log_expires_with_its_window(log: RedisRequestLog) -> None:
    await log.hit("short-lived", 0.0, 5, 0.001)
    await asyncio.sleep(0.02)

    # Had the first request's time stayed, it would count (0.0 is inside the window of 0.0).
    assert await log.hit("short-lived", 0.0, 5, 0.001) == (True, 1, 0.0)


async def test_an_unreachable_redis_admits_and_then_is_left_alone() -> None:
    breaker = CircuitBreaker("test", failure_threshold=2, reset_seconds=60)
    log = RedisRequestLog(Redis.from_url("redis://127.0.0.1:1/0"), breaker=breaker)

    results = [await log.hit("client", 5.0, 1, 60) for _ in range(3)]

    assert results == [(True, 0, 5.0)] * 3
    assert breaker.state is BreakerState.OPEN
    await log.close()


async def test_the_log_lives_in_redis_with_a_redis_cache() -> None:
    log = create_request_log(make_settings(cache_url="redis://127.0.0.1:6379/0"))

    assert isinstance(log, RedisRequestLog)
    await log.close()
