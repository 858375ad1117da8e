"""The Bloom filter in Redis, against fakeredis (and a real server when TEST_CACHE_URL names one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from orders_service.cache.bloom import MemoryFilter
from orders_service.cache.known_ids import (
    create_known_ids,
)
from orders_service.cache.redis_bloom import (
    BloomFilter,
    RedisBits,
    dimensions,
)
from orders_service.items.repository import (
    ItemRepository,
)
from orders_service.state import AppState
from tests.apps import make_settings


@pytest.fixture
async def clients() -> AsyncIterator[tuple[Redis, Redis]]:
    """Two connections to one server, as two replicas have."""
    url = os.environ.get("TEST_CACHE_URL", "")
    if url.startswith("redis"):
        pair: tuple[Redis, Redis] = (Redis.from_url(url), Redis.from_url(url))
    else:
        server = FakeServer()
        pair = (FakeAsyncRedis(server=server), FakeAsyncRedis(server=server))
    yield pair
    for client in pair:
        await client.aclose()


@pytest.fixture
async def key(clients: tuple[Redis, Redis]) -> AsyncIterator[str]:
    key = f"bloom-test:{uuid4()}"
    yield key
    await clients[0].delete(key)


def redis_filter(client: Redis, key: str, capacity: int, error_rate: float) -> BloomFilter:
    size, hashes = dimensions(capacity, error_rate)
    return BloomFilter(RedisBits(client, key), size, hashes)


def test_dimensions_follow_the_textbook_formulas() -> None:
    assert dimensions(1_000, 0.01) == (9_586, 7)
    assert dimensions(1_000_000, 0.001) == (14_377_588, 10)


@pytest.mark.parametrize(("capacity", "error_rate"), [(0, 0.01), (10, 0.0), (10, 1.0)])
def test_impossible_dimensions_are_refused(capacity: int, error_rate: float) -> None:
    with pytest.raises(ValueError, match="needs capacity >= 1 and 0 < error_rate < 1"):
        dimensions(capacity, error_rate)


def test_a_key_has_the_same_offsets_in_every_process(clients: tuple[Redis, Redis]) -> None:
    """Pinned: replicas (and releases) that hashed apart would miss each other's keys."""
    bloom = redis_filter(clients[0], "unused", 1_000, 0.01)

    assert bloom.offsets("item-1") == [3887, 3162, 2437, 1712, 987, 262, 9123]


async def test_every_added_key_is_found(clients: tuple[Redis, Redis], key: str) -> None:
    bloom = redis_filter(clients[0], key, 1_000, 0.01)
    keys = [f"item-{n}" for n in range(1_000)]

    await bloom.add(keys)

    assert all([await bloom.might_contain(k) for k in keys])


async def test_false_positives_stay_near_the_error_rate_at_capacity(
    clients: tuple[Redis, Redis], key: str
) -> None:
    bloom = redis_filter(clients[0], key, 1_000, 0.01)
    await bloom.add(f"item-{n}" for n in range(1_000))

    others = [await bloom.might_contain(f"other-{n}") for n in range(2_000)]

    assert 0.005 < sum(others) / len(others) < 0.02


async def test_replicas_on_two_clients_share_one_filter(
    clients: tuple[Redis, Redis], key: str
) -> None:
    one, other = (redis_filter(client, key, 100, 0.01) for client in clients)
    keys = [f"item-{n}" for n in range(100)]

    await one.add(keys[:50])
    await other.add(keys[50:])

    probes = keys + [f"probe-{n}" for n in range(500)]
    answers = [await one.might_contain(p) for p in probes]
    assert answers == [await other.might_contain(p) for p in probes]
    assert all(answers[:100]), "each sees what the other added"
    assert not all(answers[100:])


async def test_exactly_the_keys_bits_are_set(clients: tuple[Redis, Redis], key: str) -> None:
    bloom = redis_filter(clients[0], key, 100, 0.01)
    keys = [f"item-{n}" for n in range(100)]

    await bloom.add(keys)

    offsets = {offset for k in keys for offset in bloom.offsets(k)}
    assert await clients[1].bitcount(key) == len(offsets)
    assert all([await clients[1].getbit(key, offset) for offset in sorted(offsets)])


async def test_a_redis_cache_url_shares_the_filter(state: AppState) -> None:
    settings = make_settings(bloom_filter_enabled=True, cache_url="redis://127.0.0.1:1/0")

    shared = create_known_ids("item", settings, state.session, ItemRepository, capacity=1_000)

    assert shared is not None
    assert isinstance(shared.bloom, BloomFilter)
    expected = dimensions(1_000, settings.bloom_filter_error_rate)
    assert (shared.bloom.size, shared.bloom.hashes) == expected
    await shared.close()


def test_a_memory_cache_url_keeps_the_filter_in_process(state: AppState) -> None:
    settings = make_settings(bloom_filter_enabled=True, cache_url="memory://")

    local = create_known_ids("item", settings, state.session, ItemRepository)

    assert local is not None
    assert isinstance(local.bloom, MemoryFilter)
