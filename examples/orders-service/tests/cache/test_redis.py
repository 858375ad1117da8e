"""RedisCache against fakeredis (and against a real server when TEST_CACHE_URL names one)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from fakeredis import FakeAsyncRedis
from pydantic import SecretStr
from redis.asyncio import Redis

from orders_service.cache.aside import CacheAside
from orders_service.cache.redis import RedisCache
from orders_service.cache.store import create_cache
from tests.apps import make_settings


@pytest.fixture
async def cache() -> AsyncIterator[RedisCache]:
    url = os.environ.get("TEST_CACHE_URL", "")
    client: Redis = Redis.from_url(url) if url.startswith("redis") else FakeAsyncRedis()
    cache = RedisCache(client)
    yield cache
    await cache.close()


async def test_set_get_delete(cache: RedisCache) -> None:
    await cache.set("redis-test:k", b"v", ttl_seconds=60)

    assert await cache.get("redis-test:k") == b"v"
    await cache.delete("redis-test:k")
    assert await cache.get("redis-test:k") is None


async def test_values_expire(cache: RedisCache) -> None:
    await cache.set("redis-test:short", b"v", ttl_seconds=0.001)

    # Redis expires keys on its own clock; sub-millisecond TTLs round up to 1 ms.
    await asyncio.sleep(0.02)
    assert await cache.get("redis-test:short") is None


async def test_ping(cache: RedisCache) -> None:
    assert await cache.ping()


async def test_ping_reports_an_unreachable_server() -> None:
    cache = RedisCache.from_settings(
        make_settings(cache_url="redis://127.0.0.1:1/0", cache_password=SecretStr("pw"))
    )

    assert not await cache.ping()
    await cache.close()


def test_create_cache_from_a_redis_url() -> None:
    assert isinstance(create_cache(make_settings(cache_url="redis://127.0.0.1:6379/0")), RedisCache)


async def test_a_down_redis_degrades_to_the_database() -> None:
    down = RedisCache.from_settings(make_settings(cache_url="redis://127.0.0.1:1/0"))
    cache = CacheAside(down, ttl_seconds=60, miss_ttl_seconds=5)

    async def load() -> bytes:
        return b"from the database"

    assert await cache.get("k", load) == b"from the database"
    await down.close()
