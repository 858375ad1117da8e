"""A typed repository base that each domain's repository extends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Base


class RepositoryBase[M: Base]:
    """Reads and writes of one model; callers own the transaction."""

    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: UUID) -> M | None:
        return await self.session.get(self.model, id_)

    async def page(self, *, limit: int, offset: int, order_by: Any) -> Sequence[M]:
        """One page of rows in a stable order."""
        statement = select(self.model).order_by(order_by).limit(limit).offset(offset)
        return (await self.session.scalars(statement)).all()

    async def count(self) -> int:
        """All rows. On very large tables prefer an estimate: COUNT(*) scans."""
        total = await self.session.scalar(select(func.count()).select_from(self.model))
        return total or 0

    async def add(self, instance: M) -> M:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def delete(self, instance: M) -> None:
        await self.session.delete(instance)
        await self.session.flush()
