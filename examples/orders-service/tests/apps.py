"""Build the real app with test settings, for fixtures and for tests that need a variant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from orders_service.config import Environment, Settings
from orders_service.main import create_app


def make_settings(**overrides: Any) -> Settings:
    """Test settings: no `.env`, no environment variables beyond what is given."""
    values: dict[str, Any] = {"environment": Environment.TEST, "cache_url": "memory://"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered, as a server would run it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
