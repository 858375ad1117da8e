"""The in-memory cache, and the cache the settings name."""

from __future__ import annotations

from orders_service.cache.store import (
    MemoryCache,
    create_cache,
)
from tests.apps import make_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestMemoryCache:
    async def test_returns_what_was_set_until_it_expires(self) -> None:
        clock = FakeClock()
        cache = MemoryCache(max_entries=10, clock=clock)
        await cache.set("k", b"v", ttl_seconds=5)

        assert await cache.get("k") == b"v"
        clock.now += 5
        assert await cache.get("k") is None

    async def test_evicts_the_least_recently_used(self) -> None:
        cache = MemoryCache(max_entries=2)
        await cache.set("a", b"1", ttl_seconds=60)
        await cache.set("b", b"2", ttl_seconds=60)
        await cache.get("a")

        await cache.set("c", b"3", ttl_seconds=60)

        assert await cache.get("a") == b"1"
        assert await cache.get("b") is None

    async def test_delete_and_close_forget(self) -> None:
        cache = MemoryCache(max_entries=10)
        await cache.set("a", b"1", ttl_seconds=60)
        await cache.set("b", b"2", ttl_seconds=60)

        await cache.delete("a")
        assert await cache.get("a") is None
        await cache.close()
        assert await cache.get("b") is None
        assert await cache.ping()


def test_create_cache_from_a_memory_url() -> None:
    assert isinstance(create_cache(make_settings(cache_url="memory://")), MemoryCache)
