"""What the app opens at start-up and closes at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .cache import CacheAside, create_cache
from .config import Settings
from .db import create_engine, create_session_factory, migrate, ping
from .vault import TokenKeeper, VaultClient, VaultConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Dependency:
    """Something readiness reports; only a required one keeps the pod out of rotation."""

    check: Callable[[], Awaitable[bool]]
    # False where the service degrades without it (the cache) or already has what it
    # needs from it (Vault, read at start-up): failing every pod at once would be worse.
    required: bool


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    cache: CacheAside
    vault: VaultClient | None = None

    def dependencies(self) -> dict[str, Dependency]:
        """What readiness checks, and which of it the service cannot serve without."""
        dependencies = {
            "database": Dependency(partial(ping, self.engine), required=True),
            "cache": Dependency(self.cache.cache.ping, required=False),
        }
        if self.vault is not None:
            dependencies["vault"] = Dependency(
                partial(asyncio.to_thread, self.vault.is_ready), required=False
            )
        return dependencies


@asynccontextmanager
async def open_state(settings: Settings) -> AsyncIterator[AppState]:
    """Connect to the database and cache (migrating first if configured); close both after."""
    engine = create_engine(settings)
    cache = create_cache(settings)
    background: asyncio.Task[None] | None = None
    try:
        if settings.migrate_on_startup:
            await migrate(engine)
            logger.info("Database schema is up to date")
        state = AppState(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            cache=CacheAside(
                cache,
                ttl_seconds=settings.cache_ttl_seconds,
                miss_ttl_seconds=settings.cache_miss_ttl_seconds,
            ),
        )
        vault_config = VaultConfig()
        if vault_config.addr is not None:
            state.vault = await asyncio.to_thread(VaultClient.connect, vault_config)
            background = asyncio.create_task(
                TokenKeeper(state.vault).run(), name="vault-token-keeper"
            )
        yield state
    finally:
        if background is not None:
            background.cancel()
            with suppress(asyncio.CancelledError):
                await background
        await cache.close()
        await engine.dispose()
