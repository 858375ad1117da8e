"""Migrations apply and revert cleanly from Alembic's command line path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from orders_service.config import ENV_PREFIX, get_settings
from orders_service.core.db import alembic_config


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "migrations.db"
    monkeypatch.setenv(f"{ENV_PREFIX}DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def tables(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_then_downgrade(database: Path) -> None:
    command.upgrade(alembic_config(), "head")
    assert "items" in tables(database)

    command.downgrade(alembic_config(), "base")
    assert "items" not in tables(database)
