"""Item reads and writes."""

from __future__ import annotations

from sqlalchemy import select

from ..repository import RepositoryBase
from .models import Item


class ItemRepository(RepositoryBase[Item]):
    model = Item

    async def get_by_name(self, name: str) -> Item | None:
        return await self.session.scalar(select(Item).where(Item.name == name))
