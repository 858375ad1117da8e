"""Transactions for every domain: a use case's writes commit together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .problems import ConflictError

# SQLSTATE of a unique violation (PostgreSQL and the standard); SQLite names its own.
UNIQUE_VIOLATION = "23505"
SQLITE_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether the database refused a duplicate, rather than some other constraint."""
    driver_error = error.orig
    if (sqlstate := getattr(driver_error, "sqlstate", None)) is not None:
        return bool(sqlstate == UNIQUE_VIOLATION)
    return getattr(driver_error, "sqlite_errorname", None) in SQLITE_UNIQUE_VIOLATIONS


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], conflict: Callable[[], ConflictError]
) -> AsyncIterator[AsyncSession]:
    """A session whose writes commit when the block ends, and roll back when it raises.

    A duplicate the block checked for but another writer committed first is refused by
    the database's unique constraint: that is `conflict()`, a 409, not a 500. Any other
    integrity error is a bug and stays one.
    """
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except IntegrityError as error:
            await session.rollback()
            if is_unique_violation(error):
                raise conflict() from error
            raise
