"""What the app opens at start-up and closes at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .cache.aside import CacheAside
from .cache.store import create_cache
from .config import Settings
from .core.db import create_engine, create_session_factory, migrate, ping
from .items.known_ids import KnownItemIds, create_known_item_ids
from .vault.client import TokenKeeper, VaultClient, VaultConfig
from .vault.database import use_vault_credentials

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
    item_ids: KnownItemIds | None = None
    vault: VaultClient | None = None

    def session(self) -> AsyncSession:
        """A session from the current factory."""
        return self.session_factory()

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


async def get_state(request: Request) -> AppState:
    """The state opened at start-up, as a dependency any route or domain may declare.

    `async def`: FastAPI runs a plain `def` dependency in a worker thread, which costs more
    than the dependency itself on every request.
    """
    return cast(AppState, request.app.state.resources)


StateDep = Annotated[AppState, Depends(get_state)]


@asynccontextmanager
async def open_state(settings: Settings) -> AsyncIterator[AppState]:
    """Connect to the database and cache (migrating first if configured); close both after."""
    engine = create_engine(settings)
    cache = create_cache(settings)
    background: list[asyncio.Task[None]] = []
    state: AppState | None = None
    try:
        vault: VaultClient | None = None
        vault_config = VaultConfig()
        if vault_config.addr is not None:
            vault = await asyncio.to_thread(VaultClient.connect, vault_config)
            token_keeper = TokenKeeper(vault).run()
            background.append(asyncio.create_task(token_keeper, name="vault-token-keeper"))
        if settings.vault_database_role is not None:
            lease_keeper = await use_vault_credentials(
                vault, engine, settings.vault_database_mount, settings.vault_database_role
            )
            background.append(
                asyncio.create_task(lease_keeper.run(), name="vault-database-lease-keeper")
            )
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
        state.item_ids = create_known_item_ids(settings, state.session)
        if state.item_ids is not None:
            background.append(asyncio.create_task(state.item_ids.run(), name="item-id-filter"))
        state.vault = vault
        yield state
    finally:
        for task in background:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if state is not None and state.item_ids is not None:
            await state.item_ids.close()
        await cache.close()
        await engine.dispose()
