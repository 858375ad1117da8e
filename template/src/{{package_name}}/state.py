"""What the app opens at start-up and closes at shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .cache import CacheAside, create_cache
from .config import Settings
from .db import create_engine, create_session_factory, migrate

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    cache: CacheAside


@asynccontextmanager
async def open_state(settings: Settings) -> AsyncIterator[AppState]:
    """Connect to the database and cache (migrating first if configured); close both after."""
    engine = create_engine(settings)
    cache = create_cache(settings)
    try:
        if settings.migrate_on_startup:
            await migrate(engine)
            logger.info("Database schema is up to date")
        yield AppState(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            cache=CacheAside(
                cache,
                ttl_seconds=settings.cache_ttl_seconds,
                miss_ttl_seconds=settings.cache_miss_ttl_seconds,
            ),
        )
    finally:
        await cache.close()
        await engine.dispose()
