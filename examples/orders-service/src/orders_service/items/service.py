"""Item use cases: writes commit before the cache forgets, reads go cache-aside.

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
from ..cache.known_ids import KnownIds
from ..core.unit_of_work import unit_of_work
from .exceptions import ItemNameTakenError, ItemNotFoundError
from .models import Item
from .repository import ItemRepository
from .schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate


def cache_key(item_id: UUID | str) -> str:
    return f"items:{item_id}"


class ItemService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: CacheAside,
        repository: type[ItemRepository] = ItemRepository,
        known_ids: KnownIds | None = None,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._repository = repository
        self._known_ids = known_ids

    async def create(self, data: ItemCreate) -> ItemRead:
        async with self._writes(data.name) as items:
            if await items.get_by_name(data.name) is not None:
                raise ItemNameTakenError(data.name)
            item = await items.add(Item(name=data.name, description=data.description))
            if self._known_ids is not None:  # before the commit: no reader may see it first
                await self._known_ids.add(item.id)
        return ItemRead.model_validate(item)

    async def get_json(self, item_id: UUID) -> bytes:
        """The item as JSON, from the cache when it is there."""

        async def load() -> bytes | None:
            async with self._sessions() as session:
                item = await self._repository(session).get(item_id)
                if item is None:
                    return None
                return ItemRead.model_validate(item).model_dump_json().encode()

        if self._known_ids is not None and not await self._known_ids.may_exist(item_id):
            raise ItemNotFoundError(item_id)
        cached = await self._cache.get(cache_key(item_id), load)
        if cached is None:
            raise ItemNotFoundError(item_id)
        return cached

    async def get(self, item_id: UUID) -> ItemRead:
        return ItemRead.model_validate_json(await self.get_json(item_id))

    async def page(self, *, limit: int, offset: int) -> ItemPage:
        async with self._sessions() as session:
            items = self._repository(session)
            rows = await items.page(limit=limit, offset=offset, order_by=Item.created_at)
            return ItemPage(
                items=[ItemRead.model_validate(row) for row in rows],
                total=await items.count(),
                limit=limit,
                offset=offset,
            )

    async def update(self, item_id: UUID, data: ItemUpdate) -> ItemRead:
        changes = data.model_dump(exclude_unset=True)
        async with self._writes(changes.get("name", "")) as items:
            item = await self._existing(items, item_id)
            new_name = changes.get("name", item.name)
            if new_name != item.name and await items.get_by_name(new_name) is not None:
                raise ItemNameTakenError(new_name)
            for field, value in changes.items():
                setattr(item, field, value)
            await items.session.flush()
        await self._cache.invalidate(cache_key(item_id))
        return ItemRead.model_validate(item)

    async def delete(self, item_id: UUID) -> None:
        async with self._writes() as items:
            await items.delete(await self._existing(items, item_id))
        await self._cache.invalidate(cache_key(item_id))

    @staticmethod
    async def _existing(items: ItemRepository, item_id: UUID) -> Item:
        item = await items.get(item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        return item

    @asynccontextmanager
    async def _writes(self, name: str = "") -> AsyncIterator[ItemRepository]:
        """The repository in one transaction; a name another writer took first is a 409."""
        async with unit_of_work(self._sessions, partial(ItemNameTakenError, name)) as session:
            yield self._repository(session)
