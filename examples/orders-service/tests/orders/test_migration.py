"""The orders table as the migrations build it is the table the model declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from orders_service.config import ENV_PREFIX, get_settings
from orders_service.core.db import Base, alembic_config
from orders_service.orders.models import Order

TABLE = Order.__tablename__
# The revision that creates the table, and the one before it.
REVISION = "0003"
DOWN_REVISION: str | None = "0002"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "migrations.db"
    monkeypatch.setenv(f"{ENV_PREFIX}DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def ours(element: Any, _name: str | None, kind: str, _reflected: bool, _compare_to: Any) -> bool:
    """Whether autogenerate's comparison is about this domain's table."""
    table = element if kind == "table" else element.table
    return bool(table.name == TABLE)


def test_the_migrations_build_what_the_model_declares(database: Path) -> None:
    command.upgrade(alembic_config(), "head")

    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": ours})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == [], "the model and its migrations differ: `make migration m=...`"


def test_its_revision_reverts_cleanly(database: Path) -> None:
    command.upgrade(alembic_config(), REVISION)

    command.downgrade(alembic_config(), DOWN_REVISION or "base")

    engine = create_engine(f"sqlite:///{database}")
    try:
        assert TABLE not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
