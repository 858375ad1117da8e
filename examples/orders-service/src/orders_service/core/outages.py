"""Dependency outages: errors that say a dependency cannot serve now, not that the code is
wrong. They are answered 503 with `Retry-After` (problems.py), never 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import redis.exceptions
from sqlalchemy import exc as sa

# How long a client should wait before it retries, unless the error says otherwise.
RETRY_AFTER_SECONDS = 5
# SQLSTATE classes of a connection that failed (08), a server out of resources (53) or one
# stopping, starting or restarting (57P: admin shutdown, crash shutdown, cannot connect now).
UNAVAILABLE_SQLSTATES = ("08", "53", "57P")
# SQLite's: the file is locked by another writer, or cannot be opened or read.
UNAVAILABLE_SQLITE_CODES = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
)
# Errors looked at along an error's causes: drivers wrap two or three deep.
MAX_CAUSES = 8
# The exception types an outage may surface as; `is_outage` decides for each instance.
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    sa.DBAPIError,
    sa.TimeoutError,
    sa.DisconnectionError,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class DependencyUnavailableError(Exception):
    """A dependency cannot serve this request now; the same request may succeed later."""

    retry_after_seconds = RETRY_AFTER_SECONDS


# Errors that say so by their type alone (a DBAPIError needs a closer look).
UNAVAILABLE: tuple[type[Exception], ...] = (DependencyUnavailableError, *OUTAGE_TYPES[1:])


def is_outage(error: BaseException) -> bool:
    """Whether `error`, or an error that caused it, says a dependency is unavailable."""
    return any(_says_unavailable(cause) for cause in _causes(error))


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, UNAVAILABLE):
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) in UNAVAILABLE_SQLITE_CODES
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, the driver's error it wraps, and what caused each, a few levels deep."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < MAX_CAUSES:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for cause in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(cause, BaseException):
                pending.append(cause)
