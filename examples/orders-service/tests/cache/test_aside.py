"""Cache-aside reads over the in-memory cache."""

from __future__ import annotations

import asyncio

import pytest

from orders_service.cache.aside import (
    MISSING,
    CacheAside,
    LoadFailedError,
)
from orders_service.cache.store import MemoryCache
from tests.cache.test_store import FakeClock


class CountingLoader:
    """A loader that counts its calls and can be held open to let readers pile up."""

    def __init__(self, value: bytes | None) -> None:
        self.value = value
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> bytes | None:
        self.calls += 1
        await self.release.wait()
        return self.value


class TestCacheAside:
    async def test_a_hit_does_not_load(self) -> None:
        cache = CacheAside(MemoryCache(max_entries=10), ttl_seconds=60, miss_ttl_seconds=5)
        loader = CountingLoader(b"value")

        assert await cache.get("k", loader) == b"value"
        assert await cache.get("k", loader) == b"value"
        assert loader.calls == 1

    async def test_concurrent_misses_load_once(self) -> None:
        cache = CacheAside(MemoryCache(max_entries=10), ttl_seconds=60, miss_ttl_seconds=5)
        loader = CountingLoader(b"value")
        loader.release.clear()

        readers = [asyncio.create_task(cache.get("k", loader)) for _ in range(20)]
        await asyncio.sleep(0)
        loader.release.set()

        assert await asyncio.gather(*readers) == [b"value"] * 20
        assert loader.calls == 1

    async def test_a_missing_key_is_remembered_for_the_miss_ttl(self) -> None:
        clock = FakeClock()
        memory = MemoryCache(max_entries=10, clock=clock)
        cache = CacheAside(memory, ttl_seconds=60, miss_ttl_seconds=5, jitter=0)
        loader = CountingLoader(None)

        assert await cache.get("k", loader) is None
        assert await memory.get("k") == MISSING
        assert await cache.get("k", loader) is None
        assert loader.calls == 1
        clock.now += 5
        assert await cache.get("k", loader) is None
        assert loader.calls == 2

    async def test_ttls_are_spread_so_entries_do_not_expire_together(self) -> None:
        cache = CacheAside(MemoryCache(max_entries=10), ttl_seconds=100, miss_ttl_seconds=5)

        ttls = {cache._jittered(100) for _ in range(50)}

        assert len(ttls) > 1
        assert all(90 <= ttl <= 110 for ttl in ttls)

    async def test_invalidate_forces_a_reload(self) -> None:
        cache = CacheAside(MemoryCache(max_entries=10), ttl_seconds=60, miss_ttl_seconds=5)
        loader = CountingLoader(b"value")
        await cache.get("k", loader)

        await cache.invalidate("k")
        await cache.get("k", loader)

        assert loader.calls == 2

    async def test_peek_answers_only_what_is_cached_and_never_loads(self) -> None:
        memory = MemoryCache(max_entries=10)
        cache = CacheAside(memory, ttl_seconds=60, miss_ttl_seconds=5)
        await cache.get("present", CountingLoader(b"value"))
        await cache.get("absent", CountingLoader(None))

        assert await cache.peek("present") == b"value"
        assert await cache.peek("absent") is None, "cached as absent"
        assert await cache.peek("never read") is None
        assert await memory.get("never read") is None


class FailingCache(MemoryCache):
    """A cache whose every call fails, as Redis does when it is down."""

    def __init__(self) -> None:
        super().__init__(max_entries=10)
        self.calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        msg = "cache is down"
        raise ConnectionError(msg)

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self.get(key)

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        await self.get(key)
        return False

    async def delete(self, key: str) -> None:
        await self.get(key)


class TestStampedeAcrossReplicas:
    async def test_replicas_sharing_a_cache_load_once(self) -> None:
        shared = MemoryCache(max_entries=10)
        replicas = [CacheAside(shared, ttl_seconds=60, miss_ttl_seconds=5) for _ in range(3)]
        loader = CountingLoader(b"value")
        loader.release.clear()

        readers = [
            asyncio.create_task(replica.get("k", loader)) for replica in replicas for _ in range(5)
        ]
        await asyncio.sleep(0.01)
        loader.release.set()

        assert await asyncio.gather(*readers) == [b"value"] * 15
        assert loader.calls == 1

    async def test_a_lock_whose_holder_never_fills_the_cache_expires_into_a_load(self) -> None:
        shared = MemoryCache(max_entries=10)
        await shared.add("lock:k", b"1", ttl_seconds=60)  # a replica that died mid-load
        cache = CacheAside(shared, ttl_seconds=60, miss_ttl_seconds=5, lock_wait_seconds=0.05)
        loader = CountingLoader(b"value")

        assert await cache.get("k", loader) == b"value"
        assert loader.calls == 1
        assert await shared.get("lock:k") == b"1", "another replica's lock is not released"


class FailingLoader(CountingLoader):
    """A loader whose database is down."""

    async def __call__(self) -> bytes | None:
        await super().__call__()
        raise ConnectionRefusedError(111, "Connect call failed")


class TestAFailedLoad:
    async def test_releases_its_lock_and_tells_the_waiting_replicas_at_once(self) -> None:
        shared = MemoryCache(max_entries=10)
        leader, other = (
            CacheAside(shared, ttl_seconds=60, miss_ttl_seconds=5, lock_wait_seconds=30)
            for _ in range(2)
        )
        loader = FailingLoader(None)
        loader.release.clear()

        leading = asyncio.create_task(leader.get("k", loader))
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(other.get("k", loader))
        await asyncio.sleep(0.05)
        loader.release.set()

        with pytest.raises(ConnectionRefusedError):
            await leading
        # Told within a poll, not at its 30 s deadline (the test would time out first).
        with pytest.raises(LoadFailedError):
            await waiting
        assert loader.calls == 1
        assert await shared.get("lock:k") is None, "the lock went with the failed load"

    async def test_the_next_readers_fail_fast_then_load_again(self) -> None:
        clock = FakeClock()
        cache = CacheAside(
            MemoryCache(max_entries=10, clock=clock),
            ttl_seconds=60,
            miss_ttl_seconds=5,
            failure_ttl_seconds=1,
        )
        failing = FailingLoader(None)

        with pytest.raises(ConnectionRefusedError):
            await cache.get("k", failing)
        with pytest.raises(LoadFailedError):
            await cache.get("k", failing)
        assert await cache.peek("k") is None
        clock.now += 1.5
        assert await cache.get("k", CountingLoader(b"back")) == b"back"
        assert failing.calls == 1


class TestCacheOutage:
    async def test_reads_go_to_the_loader(self) -> None:
        cache = CacheAside(FailingCache(), ttl_seconds=60, miss_ttl_seconds=5)
        loader = CountingLoader(b"value")

        assert await cache.get("k", loader) == b"value"
        assert await cache.get("k", loader) == b"value"
        assert loader.calls == 2

    async def test_peek_answers_nothing(self) -> None:
        cache = CacheAside(FailingCache(), ttl_seconds=60, miss_ttl_seconds=5)

        assert await cache.peek("k") is None

    async def test_the_breaker_stops_calling_a_failing_cache(self) -> None:
        failing = FailingCache()
        cache = CacheAside(failing, ttl_seconds=60, miss_ttl_seconds=5)
        loader = CountingLoader(b"value")
        for _ in range(5):
            await cache.get("k", loader)
        calls_when_open = failing.calls

        await cache.get("k", loader)
        await cache.invalidate("k")

        assert failing.calls == calls_when_open
        assert loader.calls == 6
