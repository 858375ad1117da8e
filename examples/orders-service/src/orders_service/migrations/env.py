"""Alembic environment: runs on the app's connection, or on its own engine from the CLI."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

# Imported for its tables: each domain imports its models.
import orders_service.domains  # noqa: F401
from orders_service.config import get_settings
from orders_service.core.db import Base, create_engine

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    engine = create_engine(get_settings())
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_with_own_engine())
