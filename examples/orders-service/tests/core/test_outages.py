"""A dependency outage is answered 503 with Retry-After; a bug stays a 500, logged once."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient
from sqlalchemy import exc as sa

from orders_service.core.outages import (
    DependencyUnavailableError,
    is_outage,
)
from orders_service.core.problems import (
    DEPENDENCY_UNAVAILABLE,
    Tracebacks,
)
from tests.logs import ACCESS_LOGGER, LogLines

PROBLEM = "application/problem+json"


class PostgresError(Exception):
    """What asyncpg raises, with the server's SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(driver_error: Exception) -> sa.DBAPIError:
    """The driver's error as SQLAlchemy raises it."""
    return sa.DBAPIError("SELECT 1", None, driver_error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        sa.TimeoutError("QueuePool limit reached"),
        wrapped(PostgresError("57P01")),  # terminating connection due to administrator command
        wrapped(PostgresError("57P03")),  # the database system is starting up
        wrapped(PostgresError("08003")),  # connection does not exist
        wrapped(PostgresError("53300")),  # too many connections
        sa.DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True),
        DependencyUnavailableError(),
    ],
    ids=[
        "refused",
        "reset",
        "timeout",
        "pool-exhausted",
        "admin-shutdown",
        "starting-up",
        "connection-gone",
        "too-many-connections",
        "invalidated",
        "declared",
    ],
)
def test_outages_are_recognised(error: Exception) -> None:
    assert is_outage(error)


def sqlite_error(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("sqlite")
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    "error",
    [
        wrapped(PostgresError("42P01")),  # undefined table: a bug, not an outage
        wrapped(PostgresError("23505")),  # unique violation
        wrapped(sqlite_error(sqlite3.SQLITE_ERROR)),  # no such table
        ValueError("a bug"),
        KeyError("a bug"),
    ],
    ids=["undefined-table", "unique-violation", "sqlite-no-such-table", "value-error", "key-error"],
)
def test_bugs_are_not_outages(error: Exception) -> None:
    assert not is_outage(error)


def test_a_locked_sqlite_database_is_an_outage() -> None:
    assert is_outage(wrapped(sqlite_error(sqlite3.SQLITE_BUSY)))


@pytest.fixture
async def failing(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client of the app with routes that fail: one with an outage, one with a bug."""

    @app.get("/outage")
    async def outage() -> None:
        raise wrapped(PostgresError("57P01"))

    @app.get("/bug")
    async def bug() -> None:
        msg = "a bug"
        raise ZeroDivisionError(msg)

    # Errors the app answered must not reach the server: it would log them again and drop
    # the keep-alive connection.
    transport = ASGITransport(app=app, raise_app_exceptions=True)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_an_outage_is_a_503_with_retry_after(
    failing: AsyncClient, log_lines: LogLines
) -> None:
    response = await failing.get("/outage")

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == DEPENDENCY_UNAVAILABLE
    lines = log_lines()
    assert [line["error"] for line in lines if line["logger"] == ACCESS_LOGGER] == ["DBAPIError"]
    assert not any("exception" in line for line in lines), "an outage is not a bug: no traceback"


async def test_a_bug_is_a_500_logged_once_with_its_traceback(
    failing: AsyncClient, log_lines: LogLines
) -> None:
    responses = [await failing.get("/bug") for _ in range(3)]

    assert [r.status_code for r in responses] == [500, 500, 500]
    lines = log_lines()
    access = [line for line in lines if line["logger"] == ACCESS_LOGGER]
    assert [line["error"] for line in access] == ["ZeroDivisionError"] * 3
    tracebacks = [line for line in lines if "exception" in line]
    assert len(tracebacks) == 1, "one traceback per error class and interval"
    assert "ZeroDivisionError: a bug" in str(tracebacks[0]["exception"])


def test_tracebacks_come_back_after_the_interval(log_lines: LogLines) -> None:
    now = [0.0]
    tracebacks = Tracebacks(interval_seconds=60, clock=lambda: now[0])
    request = Request({"type": "http", "method": "GET", "path": "/bug", "headers": []})
    for at, error in [(0, ValueError()), (30, ValueError()), (30, KeyError()), (61, ValueError())]:
        now[0] = at
        tracebacks.log(request, error)

    logged = [str(line["message"]).split()[1] for line in log_lines() if "exception" in line]
    assert logged == ["ValueError", "KeyError", "ValueError"]
