"""Ids that may exist, so reads of ids that cannot are answered without a lookup.

A Bloom filter over every id of one table: a read of an id it has never seen is a 404 at
once, without the cache or the database. It stops floods of made-up ids, which the
negative cache cannot (each id is new) and which would otherwise each cost a query and
fill the cache with "missing" markers. A domain opts in from its lifespan
(`create_known_ids`) and asks `may_exist` before it reads.

It is consulted only once it holds every id. At start-up it is loaded from the database
in the background (until then reads go to the cache and database as usual). Creating a
row adds its id before the row commits, so no reader sees a row the filter lacks. Every
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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..core.db import utcnow
from ..core.outages import is_outage
from ..core.resilience import CircuitBreaker
from .bloom import Filter, MemoryFilter
from .redis_bloom import BloomFilter, RedisBits, dimensions

LOAD_BATCH = 10_000
SYNC_MARGIN = timedelta(seconds=60)

logger = logging.getLogger(__name__)


class IdSource(Protocol):
    """The reads the filter loads from: a domain's repository provides them."""

    async def ids_after(self, after: UUID | None, limit: int) -> Sequence[UUID]:
        """Up to `limit` ids in id order, from just after `after` (keyset paging)."""

    async def ids_created_since(self, since: datetime) -> Sequence[UUID]:
        """Ids of the rows created at or after `since`."""


class KnownIds:
    def __init__(
        self,
        name: str,
        bloom: Filter,
        sessions: Callable[[], AsyncSession],
        source: Callable[[AsyncSession], IdSource],
        *,
        sync_seconds: float,
        margin: timedelta = SYNC_MARGIN,
    ) -> None:
        self.name = name
        self.bloom = bloom
        self._sessions = sessions
        self._source = source
        self._sync_seconds = sync_seconds
        self._margin = margin
        self._synced_from: datetime | None = None
        self._loaded = asyncio.Event()
        self.breaker = CircuitBreaker(f"{name} id filter")

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    async def wait_until_loaded(self) -> None:
        await self._loaded.wait()

    async def may_exist(self, id_: UUID) -> bool:
        """False only when the id was certainly never created."""
        if not self.loaded or not self.breaker.allow():
            return True
        try:
            found = await self.bloom.might_contain(str(id_))
        except Exception as error:  # any filter failure degrades to a lookup
            self.breaker.record_failure()
            logger.warning(
                "The %s id filter failed (%s); reading without it",
                self.name,
                type(error).__name__,
                exc_info=not is_outage(error),
            )
            return True
        self.breaker.record_success()
        return found

    async def add(self, id_: UUID) -> None:
        """Add a new row's id; call before the row commits."""
        try:
            await self._add([id_])
        except Exception as error:  # the next sync adds it
            logger.warning(
                "The %s id filter missed a new id until its next sync (%s)",
                self.name,
                type(error).__name__,
                exc_info=not is_outage(error),
            )

    async def load(self) -> int:
        """Add every id in the database, then start answering; how many there were."""
        started, after, count = utcnow(), None, 0
        while True:
            async with self._sessions() as session:
                batch = await self._source(session).ids_after(after, LOAD_BATCH)
            if not batch:
                break
            await self._add(batch)
            after, count = batch[-1], count + len(batch)
        self._synced_from = started
        self._loaded.set()
        logger.info("The %s id filter is loaded", self.name, extra={"ids": count})
        return count

    async def sync(self) -> int:
        """Add the ids created since the previous sync or load; how many there were."""
        if self._synced_from is None:
            return await self.load()
        started = utcnow()
        async with self._sessions() as session:
            since = self._synced_from - self._margin
            ids = await self._source(session).ids_created_since(since)
        await self._add(ids)
        self._synced_from = started
        return len(ids)

    async def run(self) -> None:
        """Load, then sync every `sync_seconds`; a failure is logged and tried again."""
        while True:
            try:
                await self.sync()
            except Exception as error:  # the database or the filter's store is down: try later
                logger.warning(
                    "The %s id filter is not synced (%s); trying again",
                    self.name,
                    type(error).__name__,
                    exc_info=not is_outage(error),
                )
            await asyncio.sleep(self._sync_seconds)

    async def close(self) -> None:
        await self.bloom.close()

    async def _add(self, ids: Iterable[UUID]) -> None:
        await self.bloom.add(str(id_) for id_ in ids)


def create_known_ids(
    name: str,
    settings: Settings,
    sessions: Callable[[], AsyncSession],
    source: Callable[[AsyncSession], IdSource],
    *,
    capacity: int | None = None,
) -> KnownIds | None:
    """The filter of `name`'s ids the settings ask for (sized for `capacity`, by default
    the settings'), or None when filters are off.
    """
    if not settings.bloom_filter_enabled:
        return None
    capacity = capacity or settings.bloom_filter_capacity
    error_rate = settings.bloom_filter_error_rate
    if settings.cache_url.partition("://")[0] in {"redis", "rediss"}:
        size, hashes = dimensions(capacity, error_rate)
        # Named by its dimensions: resized, the filter starts afresh in a new key (the old
        # one stays until deleted: `DEL bloom:<name>-ids:<size>:<hashes>`).
        bits = RedisBits.from_settings(settings, key=f"bloom:{name}-ids:{size}:{hashes}")
        bloom: Filter = BloomFilter(bits, size, hashes)
    else:
        bloom = MemoryFilter(capacity, error_rate)
    return KnownIds(name, bloom, sessions, source, sync_seconds=settings.bloom_filter_sync_seconds)


@asynccontextmanager
async def running_known_ids(
    name: str,
    settings: Settings,
    sessions: Callable[[], AsyncSession],
    source: Callable[[AsyncSession], IdSource],
) -> AsyncIterator[KnownIds | None]:
    """`create_known_ids`'s filter, loaded and synced in the background while the block
    runs (a domain's lifespan), then stopped and closed; None when filters are off."""
    known_ids = create_known_ids(name, settings, sessions, source)
    if known_ids is None:
        yield None
        return
    task = asyncio.create_task(known_ids.run(), name=f"{name}-id-filter")
    try:
        yield known_ids
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await known_ids.close()
