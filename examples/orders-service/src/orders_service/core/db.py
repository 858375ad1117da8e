"""The database: declarative base, engine, sessions and migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, MetaData, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from ..config import Settings

MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"

# Stable constraint names, so migrations can drop and alter what they created.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine for `settings.database`: PostgreSQL with a bounded pool and timeouts, or SQLite."""
    if settings.database.get_backend_name() == "sqlite":
        return create_sqlite_engine(settings)
    return create_async_engine(
        settings.database,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_timeout_seconds,
        pool_pre_ping=True,
        # asyncpg: bounded waits for a connection and for any one statement.
        connect_args={
            "timeout": settings.database_timeout_seconds,
            "command_timeout": settings.database_statement_timeout_seconds,
        },
    )


def create_sqlite_engine(settings: Settings) -> AsyncEngine:
    """An engine for embedded SQLite; creates the database file's directory if needed."""
    if (path := settings.sqlite_path) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(settings.database)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade the schema to `revision`: by default every head, so a service still starts
    when a template release adds a revision beside those of the team's domains."""
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync_connection: command.upgrade(alembic_config(sync_connection), revision)
        )
