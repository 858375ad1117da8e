"""Fixtures: the real app on a fresh database, and an async client that talks to it.

Tests run on embedded SQLite and the in-memory cache; set TEST_DATABASE_URL and
TEST_CACHE_URL to run the same suite against real servers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from orders_service.config import Settings
from orders_service.state import AppState, app_state
from tests.apps import client_of, delete_all_rows, make_settings, running_app
from tests.logs import LogLines, json_lines
from tests.oidc import LocalProvider, local_provider


@pytest.fixture(scope="session", autouse=True)
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    """The local OpenID provider every app of the session trusts (tests/oidc.py)."""
    with local_provider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """A fresh database, and the settings a `settings(...)` mark of the test (or of its class
    or module, the closest winning) gives: `@pytest.mark.settings(access_log="all")`."""
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    marked: dict[str, object] = {}
    for mark in reversed(list(request.node.iter_markers("settings"))):
        marked.update(mark.kwargs)
    return make_settings(
        database_url=os.environ.get("TEST_DATABASE_URL", sqlite_url),
        cache_url=os.environ.get("TEST_CACHE_URL", "memory://"),
        **marked,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as app:
        yield app
        await delete_all_rows(app_state(app))


@pytest.fixture
def state(app: FastAPI) -> AppState:
    return app_state(app)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with client_of(app, raise_app_exceptions=False) as client:
        yield client


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """What the service logs meanwhile, as JSON lines."""
    with json_lines() as lines:
        yield lines
