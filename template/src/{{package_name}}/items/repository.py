"""Item reads and writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select

from ..core.repository import RepositoryBase
from .models import Item


class ItemRepository(RepositoryBase[Item]):
    model = Item

    async def get_by_name(self, name: str) -> Item | None:
        return await self.session.scalar(select(Item).where(Item.name == name))

    async def ids_after(self, after: UUID | None, limit: int) -> Sequence[UUID]:
        """Up to `limit` ids in id order, from just after `after` (keyset paging)."""
        statement = select(Item.id).order_by(Item.id).limit(limit)
        if after is not None:
            statement = statement.where(Item.id > after)
        return (await self.session.scalars(statement)).all()

    async def ids_created_since(self, since: datetime) -> Sequence[UUID]:
        statement = select(Item.id).where(Item.created_at >= since)
        return (await self.session.scalars(statement)).all()
