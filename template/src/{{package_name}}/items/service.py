"""Item use cases: writes commit before the cache forgets, reads go cache-aside."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from ..cache import CacheAside
from .exceptions import ItemNameTakenError, ItemNotFoundError
from .models import Item
from .repository import ItemRepository
from .schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate


def cache_key(item_id: UUID) -> str:
    return f"items:{item_id}"


class ItemService:
    def __init__(self, repository: ItemRepository, cache: CacheAside) -> None:
        self._repository = repository
        self._cache = cache

    async def create(self, data: ItemCreate) -> ItemRead:
        if await self._repository.get_by_name(data.name) is not None:
            raise ItemNameTakenError(data.name)
        item = Item(name=data.name, description=data.description)
        async with self._unique_name(data.name):
            await self._repository.add(item)
        return ItemRead.model_validate(item)

    async def get(self, item_id: UUID) -> ItemRead:
        async def load() -> bytes | None:
            item = await self._repository.get(item_id)
            if item is None:
                return None
            return ItemRead.model_validate(item).model_dump_json().encode()

        cached = await self._cache.get(cache_key(item_id), load)
        if cached is None:
            raise ItemNotFoundError(item_id)
        return ItemRead.model_validate_json(cached)

    async def page(self, *, limit: int, offset: int) -> ItemPage:
        items = await self._repository.page(limit=limit, offset=offset, order_by=Item.created_at)
        return ItemPage(
            items=[ItemRead.model_validate(item) for item in items],
            total=await self._repository.count(),
            limit=limit,
            offset=offset,
        )

    async def update(self, item_id: UUID, data: ItemUpdate) -> ItemRead:
        item = await self._get_for_write(item_id)
        changes = data.model_dump(exclude_unset=True)
        new_name = changes.get("name", item.name)
        if new_name != item.name and await self._repository.get_by_name(new_name) is not None:
            raise ItemNameTakenError(new_name)
        for field, value in changes.items():
            setattr(item, field, value)
        async with self._unique_name(item.name):
            await self._repository.session.flush()
        await self._cache.invalidate(cache_key(item_id))
        return ItemRead.model_validate(item)

    async def delete(self, item_id: UUID) -> None:
        item = await self._get_for_write(item_id)
        await self._repository.delete(item)
        await self._repository.session.commit()
        await self._cache.invalidate(cache_key(item_id))

    async def _get_for_write(self, item_id: UUID) -> Item:
        item = await self._repository.get(item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        return item

    @asynccontextmanager
    async def _unique_name(self, name: str) -> AsyncIterator[None]:
        """Write and commit; a unique-name race lost to another writer is a 409, not a 500."""
        session = self._repository.session
        try:
            yield
            await session.commit()
        except IntegrityError as error:
            await session.rollback()
            raise ItemNameTakenError(name) from error
