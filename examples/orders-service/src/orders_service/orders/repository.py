"""Order reads and writes."""

from __future__ import annotations

from sqlalchemy import select

from ..core.repository import RepositoryBase
from .models import Order


class OrderRepository(RepositoryBase[Order]):
    model = Order

    async def get_by_name(self, name: str) -> Order | None:
        return await self.session.scalar(select(Order).where(Order.name == name))
