"""Build the real app with test settings, for fixtures and for tests that need a variant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete

from orders_service.auth.docs import required_scopes
from orders_service.config import Environment, Settings
from orders_service.core.db import Base
from orders_service.main import create_app
from orders_service.state import AppState
from tests.oidc import running_provider


def make_settings(**overrides: Any) -> Settings:
    """Test settings: no `.env`, tokens from the session's local provider, and `overrides`."""
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "cache_url": "memory://",
        **running_provider().settings(),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_app(settings: Settings, **options: Any) -> AsyncIterator[FastAPI]:
    """The app (`options`: create_app's) with its lifespan entered, as a server would run it."""
    app = create_app(settings, **options)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_of(
    app: FastAPI, *, authorized: bool = True, **transport: Any
) -> AsyncIterator[AsyncClient]:
    """An HTTP client that calls the app in process (`transport`: ASGITransport's options),
    with an access token for every scope the app's routes declare unless not `authorized`."""
    headers = {}
    if authorized:
        token = running_provider().token(*required_scopes(app.openapi()))
        headers["Authorization"] = f"Bearer {token}"
    async with AsyncClient(
        transport=ASGITransport(app=app, **transport),
        base_url="http://testserver",
        headers=headers,
    ) as client:
        yield client


async def delete_all_rows(state: AppState) -> None:
    """Leave a shared test database (TEST_DATABASE_URL) as the next test expects it."""
    async with state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
