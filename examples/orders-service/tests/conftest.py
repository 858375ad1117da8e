"""Fixtures: the real app on a fresh database, and an async client that talks to it.

Tests run on embedded SQLite and the in-memory cache; set TEST_DATABASE_URL and
TEST_CACHE_URL to run the same suite against real servers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from orders_service.config import Settings
from orders_service.state import AppState
from tests.apps import delete_all_rows, make_settings, running_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return make_settings(
        database_url=os.environ.get("TEST_DATABASE_URL", sqlite_url),
        cache_url=os.environ.get("TEST_CACHE_URL", "memory://"),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as app:
        yield app
        await delete_all_rows(app.state.resources)


@pytest.fixture
def state(app: FastAPI) -> AppState:
    resources: AppState = app.state.resources
    return resources


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
