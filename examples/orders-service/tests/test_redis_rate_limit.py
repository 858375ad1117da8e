"""Rate-limit counts in Redis: shared, atomic, and failing open (fakeredis, or TEST_CACHE_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from fakeredis import FakeAsyncRedis
from redis.asyncio import Redis

from orders_service.rate_limit import RateLimiter, create_window_counts
from orders_service.redis_rate_limit import RedisWindowCounts
from orders_service.resilience import BreakerState, CircuitBreaker
from tests.apps import make_settings


def redis_client() -> Redis:
    url = os.environ.get("TEST_CACHE_URL", "")
    return Redis.from_url(url) if url.startswith("redis") else FakeAsyncRedis()


@pytest.fixture
async def counts() -> AsyncIterator[RedisWindowCounts]:
    # A prefix of its own: a real server keeps counts from earlier runs for a window or two.
    counts = RedisWindowCounts(redis_client(), prefix=f"test-{uuid.uuid4().hex}:")
    yield counts
    await counts.close()


async def test_counts_and_refuses_like_the_memory_counts(counts: RedisWindowCounts) -> None:
    results = [await counts.hit("client", 2, 100, 1.0, 120) for _ in range(3)]

    assert results == [(True, 0, 1), (True, 0, 2), (False, 0, 2)]


async def test_the_previous_window_weighs_in(counts: RedisWindowCounts) -> None:
    for _ in range(4):
        await counts.hit("client", 10, 100, 1.0, 120)

    # 4 x 0.5 + this window's count + 1 must stay within 4.
    results = [await counts.hit("client", 4, 101, 0.5, 120) for _ in range(3)]

    assert results == [(True, 4, 1), (True, 4, 2), (False, 4, 2)]


async def test_replicas_share_the_counts(counts: RedisWindowCounts) -> None:
    """Two limiters, as in two pods, over one Redis: the limit holds across both."""
    replicas = [RateLimiter(counts, 5, 60, clock=lambda: 1_000_021.0) for _ in range(2)]

    decisions = await asyncio.gather(*(replicas[n % 2].hit("shared") for n in range(8)))

    assert sum(decision.admitted for decision in decisions) == 5


async def test_counters_expire(counts: RedisWindowCounts) -> None:
    await counts.hit("short-lived", 5, 100, 1.0, 0.001)
    await asyncio.sleep(0.02)

    assert await counts.hit("short-lived", 5, 100, 1.0, 0.001) == (True, 0, 1)


async def test_an_unreachable_redis_admits_and_then_is_left_alone() -> None:
    breaker = CircuitBreaker("test", failure_threshold=2, reset_seconds=60)
    counts = RedisWindowCounts(Redis.from_url("redis://127.0.0.1:1/0"), breaker=breaker)

    results = [await counts.hit("client", 1, 100, 1.0, 120) for _ in range(3)]

    assert results == [(True, 0, 0)] * 3
    assert breaker.state is BreakerState.OPEN
    await counts.close()


async def test_counts_live_in_redis_with_a_redis_cache() -> None:
    counts = create_window_counts(make_settings(cache_url="redis://127.0.0.1:6379/0"))

    assert isinstance(counts, RedisWindowCounts)
    await counts.close()
