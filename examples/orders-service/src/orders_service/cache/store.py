"""The cache store: one protocol, the in-memory default, and the store the settings name."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ..config import Settings, url_scheme
from .redis import RedisCache


class Cache(Protocol):
    """A byte-valued key/value store with per-key expiry."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        """Set `key` only if it is absent; whether it was set (a lock across replicas)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryCache:
    """A per-process LRU cache with expiry; the embedded default."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._entries[key] = (self._clock() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


def create_cache(settings: Settings) -> Cache:
    """The cache `settings.cache_url` names; the settings accept `memory://` and `redis://…` only."""
    if url_scheme(settings.cache_url) == "memory":
        return MemoryCache(max_entries=settings.cache_max_entries)
    return RedisCache.from_settings(settings)
