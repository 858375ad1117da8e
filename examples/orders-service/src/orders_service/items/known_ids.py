"""Item ids that may exist, so reads of ids that cannot are answered without a lookup.

A Bloom filter over every item id: a read of an id it has never seen is a 404 at once,
without the cache or the database. It stops floods of made-up ids, which the negative
cache cannot (each id is new) and which would otherwise each cost a query and fill the
cache with "missing" markers.

It is consulted only once it holds every id. At start-up it is loaded from the database
in the background (until then reads go to the cache and database as usual). Creating an
item adds its id before the row commits, so no reader sees a row the filter lacks. Every
`sync_seconds` the ids created since the previous sync (less a margin for clock skew and
slow commits) are added again: an id whose add failed, or that a replica without the
filter created, is in the filter within that time. A failing filter is skipped, never a
500: reads go to the cache and database.
With a Redis cache URL every replica shares one filter; with the in-memory cache each
process has its own, and ids other processes create reach it only with the sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from ..cache.bloom import BloomFilter, MemoryBits, dimensions
from ..cache.redis_bloom import RedisBits
from ..config import Settings
from ..core.db import utcnow
from ..core.resilience import CircuitBreaker
from .repository import ItemRepository

LOAD_BATCH = 10_000
SYNC_MARGIN = timedelta(seconds=60)

logger = logging.getLogger(__name__)


class KnownItemIds:
    def __init__(
        self,
        bloom: BloomFilter,
        sessions: Callable[[], AsyncSession],
        *,
        sync_seconds: float,
        margin: timedelta = SYNC_MARGIN,
    ) -> None:
        self.bloom = bloom
        self._sessions = sessions
        self._sync_seconds = sync_seconds
        self._margin = margin
        self._synced_from: datetime | None = None
        self._loaded = asyncio.Event()
        self.breaker = CircuitBreaker("item id filter")

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    async def wait_until_loaded(self) -> None:
        await self._loaded.wait()

    async def may_exist(self, item_id: UUID) -> bool:
        """False only when the id was certainly never created."""
        if not self.loaded or not self.breaker.allow():
            return True
        try:
            found = await self.bloom.might_contain(str(item_id))
        except Exception:  # any filter failure degrades to a lookup
            self.breaker.record_failure()
            logger.warning("Item id filter failed; reading without it", exc_info=True)
            return True
        self.breaker.record_success()
        return found

    async def add(self, item_id: UUID) -> None:
        """Add a new item's id; call before its row commits."""
        try:
            await self.bloom.add([str(item_id)])
        except Exception:  # the next sync adds it
            logger.warning("Item id filter missed a new id until its next sync", exc_info=True)

    async def load(self) -> int:
        """Add every id in the database, then start answering; how many there were."""
        started, after, count = utcnow(), None, 0
        while True:
            async with self._sessions() as session:
                batch = await ItemRepository(session).ids_after(after, LOAD_BATCH)
            if not batch:
                break
            await self.bloom.add(str(item_id) for item_id in batch)
            after, count = batch[-1], count + len(batch)
        self._synced_from = started
        self._loaded.set()
        logger.info("Item id filter loaded", extra={"item_ids": count})
        return count

    async def sync(self) -> int:
        """Add the ids created since the previous sync or load; how many there were."""
        if self._synced_from is None:
            return await self.load()
        started = utcnow()
        async with self._sessions() as session:
            ids = await ItemRepository(session).ids_created_since(self._synced_from - self._margin)
        await self.bloom.add(str(item_id) for item_id in ids)
        self._synced_from = started
        return len(ids)

    async def run(self) -> None:
        """Load, then sync every `sync_seconds`; a failure is logged and tried again."""
        while True:
            try:
                await self.sync()
            except Exception:  # the database or the filter's store is down: try later
                logger.warning("Item id filter not synced; trying again", exc_info=True)
            await asyncio.sleep(self._sync_seconds)

    async def close(self) -> None:
        await self.bloom.close()


def create_known_item_ids(
    settings: Settings, sessions: Callable[[], AsyncSession]
) -> KnownItemIds | None:
    """The filter the settings ask for, or None when it is off."""
    if not settings.bloom_filter_enabled:
        return None
    size, hashes = dimensions(settings.bloom_filter_capacity, settings.bloom_filter_error_rate)
    if settings.cache_url.partition("://")[0] in {"redis", "rediss"}:
        # Named by its dimensions: resized, the filter starts afresh in a new key (the old
        # one stays until deleted: `DEL bloom:item-ids:<size>:<hashes>`).
        bits: RedisBits | MemoryBits = RedisBits.from_settings(
            settings, key=f"bloom:item-ids:{size}:{hashes}"
        )
    else:
        bits = MemoryBits(size)
    return KnownItemIds(
        BloomFilter(bits, size, hashes), sessions, sync_seconds=settings.bloom_filter_sync_seconds
    )
