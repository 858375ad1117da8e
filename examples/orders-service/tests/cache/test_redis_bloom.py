"""Bloom filter bits in Redis, against fakeredis (and a real server when TEST_CACHE_URL names one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from fakeredis import FakeAsyncRedis
from redis.asyncio import Redis

from orders_service.cache.bloom import (
    BloomFilter,
    MemoryBits,
    dimensions,
)
from orders_service.cache.known_ids import (
    create_known_ids,
)
from orders_service.cache.redis_bloom import RedisBits
from orders_service.items.repository import (
    ItemRepository,
)
from orders_service.state import AppState
from tests.apps import make_settings


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    url = os.environ.get("TEST_CACHE_URL", "")
    client: Redis = Redis.from_url(url) if url.startswith("redis") else FakeAsyncRedis()
    yield client
    await client.aclose()


async def test_replicas_sharing_the_key_share_the_filter(client: Redis) -> None:
    key = f"bloom-test:{uuid4()}"
    size, hashes = dimensions(1_000, 0.01)
    one = BloomFilter(RedisBits(client, key), size, hashes)
    other = BloomFilter(RedisBits(client, key), size, hashes)

    await one.add(["added by one"])

    assert await other.might_contain("added by one")
    assert not await other.might_contain("added by nobody")
    await client.delete(key)


async def test_the_same_bits_as_in_memory(client: Redis) -> None:
    key = f"bloom-test:{uuid4()}"
    size, hashes = dimensions(100, 0.01)
    in_redis = BloomFilter(RedisBits(client, key), size, hashes)
    in_memory = BloomFilter(MemoryBits(size), size, hashes)
    keys = [f"item-{n}" for n in range(100)]

    await in_redis.add(keys)
    await in_memory.add(keys)

    probes = [f"probe-{n}" for n in range(500)]
    assert [await in_redis.might_contain(p) for p in probes] == [
        await in_memory.might_contain(p) for p in probes
    ]
    await client.delete(key)


def test_a_redis_cache_url_shares_the_filter(state: AppState) -> None:
    settings = make_settings(bloom_filter_enabled=True, cache_url="redis://127.0.0.1:1/0")

    shared = create_known_ids("item", settings, state.session, ItemRepository)

    assert shared is not None
    assert isinstance(shared.bloom.bits, RedisBits)
