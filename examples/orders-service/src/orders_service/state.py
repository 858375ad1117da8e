"""What the app opens at start-up and closes at shutdown, in one typed object."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from .cache.aside import CacheAside
from .cache.store import create_cache
from .config import Settings
from .core.db import create_engine, create_session_factory, migrate, ping
from .ratelimit.limiter import RateLimiter
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
    # The dependency that still serves part of the traffic while this one is down (the
    # cache, for reads): the pod stays in rotation while it answers.
    fallback: str | None = None


class StateKey[T]:
    """A typed slot in AppState for what a domain opens at start-up (like aiohttp's AppKey):
    `KNOWN_IDS = StateKey[KnownIds | None]("items.known_ids")`, then `state[KNOWN_IDS]`.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


@dataclass(slots=True)
class AppState:
    """Everything the app opened at start-up; routes get it through `StateDep`."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    cache: CacheAside
    rate_limiter: RateLimiter | None = None
    vault: VaultClient | None = None

    # What readiness checks besides the database and cache, added by what opened it.
    checks: dict[str, Dependency] = field(default_factory=dict)
    # When each dependency's readiness checks began to fail (api/health.py).
    down_since: dict[str, float] = field(default_factory=dict)
    _domains: dict[StateKey[Any], object] = field(default_factory=dict)

    def __getitem__[T](self, key: StateKey[T]) -> T:
        try:
            return cast(T, self._domains[key])
        except KeyError:
            raise LookupError(f"{key.name} is not opened: is its domain registered?") from None

    def __setitem__[T](self, key: StateKey[T], value: T) -> None:
        self._domains[key] = value

    def session(self) -> AsyncSession:
        """A session from the current factory."""
        return self.session_factory()

    def dependencies(self) -> dict[str, Dependency]:
        """What readiness checks, and which of it the service cannot serve without."""
        dependencies = {
            "database": Dependency(partial(ping, self.engine), required=True, fallback="cache"),
            "cache": Dependency(self.cache.ping, required=False),
        }
        if self.vault is not None:
            dependencies["vault"] = Dependency(
                partial(asyncio.to_thread, self.vault.is_ready), required=False
            )
        return dependencies | self.checks


def opened_state(app: Starlette) -> AppState | None:
    """The app's state while its lifespan runs, else None."""
    state: AppState | None = getattr(app.state, "opened", None)
    return state


def app_state(app: Starlette) -> AppState:
    """The app's state, once its lifespan has opened it."""
    state = opened_state(app)
    if state is None:
        raise RuntimeError("the app's state is not open: is its lifespan running?")
    return state


async def get_state(request: Request) -> AppState:
    """The state opened at start-up, as a dependency any route or domain may declare.

    `async def`: FastAPI runs a plain `def` dependency in a worker thread, which costs more
    than the dependency itself on every request.
    """
    return app_state(request.app)


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
        state.vault = vault
        yield state
    finally:
        for task in background:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await cache.close()
        await engine.dispose()
