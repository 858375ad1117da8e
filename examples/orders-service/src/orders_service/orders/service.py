"""Order use cases: writes commit before the cache forgets, reads go cache-aside.

Each use case opens its own session, and only when it needs the database: a read
served from the cache never builds one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..cache.aside import CacheAside
from ..core.unit_of_work import unit_of_work
from .exceptions import OrderNameTakenError, OrderNotFoundError
from .models import Order
from .repository import OrderRepository
from .schemas import OrderCreate, OrderPage, OrderRead, OrderUpdate


def cache_key(order_id: UUID | str) -> str:
    return f"orders:{order_id}"


class OrderService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: CacheAside,
        repository: type[OrderRepository] = OrderRepository,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._repository = repository

    async def create(self, data: OrderCreate) -> OrderRead:
        async with self._writes(data.name) as repository:
            if await repository.get_by_name(data.name) is not None:
                raise OrderNameTakenError(data.name)
            row = await repository.add(Order(name=data.name, description=data.description))
        return OrderRead.model_validate(row)

    async def get_json(self, order_id: UUID) -> bytes:
        """The order as JSON, from the cache when it is there."""

        async def load() -> bytes | None:
            async with self._sessions() as session:
                row = await self._repository(session).get(order_id)
                if row is None:
                    return None
                return OrderRead.model_validate(row).model_dump_json().encode()

        cached = await self._cache.get(cache_key(order_id), load)
        if cached is None:
            raise OrderNotFoundError(order_id)
        return cached

    async def get(self, order_id: UUID) -> OrderRead:
        return OrderRead.model_validate_json(await self.get_json(order_id))

    async def page(self, *, limit: int, offset: int) -> OrderPage:
        async with self._sessions() as session:
            repository = self._repository(session)
            rows = await repository.page(limit=limit, offset=offset, order_by=Order.created_at)
            return OrderPage(
                items=[OrderRead.model_validate(row) for row in rows],
                total=await repository.count(),
                limit=limit,
                offset=offset,
            )

    async def update(self, order_id: UUID, data: OrderUpdate) -> OrderRead:
        changes = data.model_dump(exclude_unset=True)
        async with self._writes(changes.get("name", "")) as repository:
            row = await self._existing(repository, order_id)
            new_name = changes.get("name", row.name)
            if new_name != row.name and await repository.get_by_name(new_name) is not None:
                raise OrderNameTakenError(new_name)
            for field, value in changes.items():
                setattr(row, field, value)
            await repository.session.flush()
        await self._cache.invalidate(cache_key(order_id))
        return OrderRead.model_validate(row)

    async def delete(self, order_id: UUID) -> None:
        async with self._writes() as repository:
            await repository.delete(await self._existing(repository, order_id))
        await self._cache.invalidate(cache_key(order_id))

    @staticmethod
    async def _existing(repository: OrderRepository, order_id: UUID) -> Order:
        row = await repository.get(order_id)
        if row is None:
            raise OrderNotFoundError(order_id)
        return row

    @asynccontextmanager
    async def _writes(self, name: str = "") -> AsyncIterator[OrderRepository]:
        """The repository in one transaction; a name another writer took first is a 409."""
        async with unit_of_work(self._sessions, partial(OrderNameTakenError, name)) as session:
            yield self._repository(session)
