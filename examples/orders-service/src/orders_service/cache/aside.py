"""Cache-aside reads that protect the database: single-flight loads, negative caching,
jittered expiry, and a circuit breaker around a failing cache.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from ..core.outages import DependencyUnavailableError, is_outage
from ..core.resilience import BreakerState, CircuitBreaker
from ..observability.metrics import record_cache_hit, record_cache_miss
from .store import Cache

# Stored for keys the database does not have, so repeated misses stop at the cache.
MISSING = b"\x00missing"
# Stored for a moment when a load fails: the readers waiting for it, here or on another
# replica, learn it at once, and the next ones fail fast rather than pile onto the loader.
FAILED = b"\x00failed"
LOCK_PREFIX = "lock:"

logger = logging.getLogger(__name__)


class LoadFailedError(DependencyUnavailableError):
    """The key's load failed moments ago (this request's, or another's it waited for)."""

    retry_after_seconds = 1


class CacheAside:
    """Read through a cache: cache, then loader, then fill the cache.

    Protects the loader four ways. Stampede: one load per key at a time in this
    process, and across replicas a short lock in the shared cache while the others
    wait briefly for the value. Penetration: a short-lived marker for keys the
    loader does not have. Avalanche: jittered TTLs, so entries written together do
    not expire together. Outage: a failing cache is skipped (reads go to the loader,
    never to a 500), and after repeated failures a circuit breaker leaves it alone
    for a while.
    """

    def __init__(
        self,
        cache: Cache,
        ttl_seconds: float,
        miss_ttl_seconds: float,
        *,
        jitter: float = 0.1,
        lock_seconds: float = 5.0,
        lock_wait_seconds: float = 1.0,
        failure_ttl_seconds: float = 1.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.cache = cache
        self._ttl_seconds = ttl_seconds
        self._miss_ttl_seconds = miss_ttl_seconds
        self._jitter = jitter
        self._lock_seconds = lock_seconds
        self._lock_wait_seconds = lock_wait_seconds
        self._failure_ttl_seconds = failure_ttl_seconds
        self.breaker = breaker or CircuitBreaker("cache")
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
        """The cached value of `key`, loading and caching it on a miss."""
        cached = await self._read(key)
        if cached == FAILED:
            raise LoadFailedError(key)
        if cached is not None:
            record_cache_hit()
            return None if cached == MISSING else cached
        record_cache_miss()
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await self._load_once(key, load)
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    async def peek(self, key: str) -> bytes | None:
        """The cached value of `key`; None when it is not cached, cached as absent, or the
        cache fails. Never loads, and records neither hit nor miss: for callers that fall
        back to `get` and record what they serve.
        """
        cached = await self._read(key)
        return None if cached in (MISSING, FAILED) else cached

    async def ping(self) -> bool:
        """Whether the cache answers: False while its breaker is open, without asking it."""
        return self.breaker.state is not BreakerState.OPEN and await self.cache.ping()

    async def invalidate(self, key: str) -> None:
        """Forget `key`, so the next read loads it afresh."""
        await self._attempt(lambda: self.cache.delete(key), None)

    async def _load_once(
        self, key: str, load: Callable[[], Awaitable[bytes | None]]
    ) -> bytes | None:
        cached = await self._read(key)
        claimed = cached is None and await self._claim(key)
        if cached is None and not claimed:
            cached = await self._wait_for(key)
        if cached == FAILED:
            raise LoadFailedError(key)
        if cached is not None:
            return None if cached == MISSING else cached
        try:
            value = await load()
        except Exception:
            await self._store(key, FAILED, self._failure_ttl_seconds)
            raise
        else:
            if value is None:
                await self._store(key, MISSING, self._jittered(self._miss_ttl_seconds))
            else:
                await self._store(key, value, self._jittered(self._ttl_seconds))
        finally:
            if claimed:  # released at once, loaded or not; another replica's is left to expire
                await self._attempt(lambda: self.cache.delete(LOCK_PREFIX + key), None)
        return value

    async def _store(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self._attempt(lambda: self.cache.set(key, value, ttl_seconds), None)

    async def _claim(self, key: str) -> bool:
        """Take the cross-replica lock on loading `key`; a failing cache counts as taken."""
        return await self._attempt(
            lambda: self.cache.add(LOCK_PREFIX + key, b"1", self._lock_seconds), True
        )

    async def _wait_for(self, key: str) -> bytes | None:
        """The value another replica is loading, if it arrives within the lock wait."""
        deadline = time.monotonic() + self._lock_wait_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            cached = await self._read(key)
            if cached is not None:
                return cached
        return None

    async def _read(self, key: str) -> bytes | None:
        return await self._attempt(lambda: self.cache.get(key), None)

    async def _attempt[T](self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """The call's result, or `fallback` when the cache fails or its breaker is open."""
        if not self.breaker.allow():
            return fallback
        try:
            result = await call()
        except Exception as error:  # any cache failure degrades to the loader
            self.breaker.record_failure()
            logger.warning(
                "Cache call failed (%s); serving without the cache",
                type(error).__name__,
                exc_info=not is_outage(error),  # a traceback only where the code is at fault
            )
            return fallback
        self.breaker.record_success()
        return result

    def _jittered(self, ttl_seconds: float) -> float:
        # Not security-sensitive: the spread only needs to be uneven.
        spread = random.uniform(-self._jitter, self._jitter)  # noqa: S311
        return ttl_seconds * (1 + spread)
