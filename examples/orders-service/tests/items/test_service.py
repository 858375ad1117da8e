"""ItemService: reads go through the cache, writes make the cache forget."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import event, update

from orders_service.items.exceptions import (
    ItemNameTakenError,
    ItemNotFoundError,
)
from orders_service.items.models import Item
from orders_service.items.repository import ItemRepository
from orders_service.items.schemas import (
    ItemCreate,
    ItemUpdate,
)
from orders_service.items.service import ItemService
from orders_service.state import AppState


@pytest.fixture
def service(state: AppState) -> ItemService:
    return ItemService(state.session_factory, state.cache)


async def change_behind_the_cache(state: AppState, item_id: object, name: str) -> None:
    async with state.session_factory() as other, other.begin():
        await other.execute(update(Item).where(Item.id == item_id).values(name=name))


async def test_a_read_is_served_from_the_cache(service: ItemService, state: AppState) -> None:
    created = await service.create(ItemCreate(name="Cached"))
    await service.get(created.id)

    await change_behind_the_cache(state, created.id, "Changed behind the cache")

    assert (await service.get(created.id)).name == "Cached"


async def test_concurrent_reads_of_an_uncached_item_query_the_database_once(
    service: ItemService, state: AppState
) -> None:
    created = await service.create(ItemCreate(name="Popular"))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(state.engine.sync_engine, "before_cursor_execute", count)
    try:
        readers = [ItemService(state.session_factory, state.cache) for _ in range(20)]
        results = await asyncio.gather(*(reader.get(created.id) for reader in readers))
    finally:
        event.remove(state.engine.sync_engine, "before_cursor_execute", count)

    assert {result.name for result in results} == {"Popular"}
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1


async def test_an_update_makes_the_cache_forget(service: ItemService) -> None:
    created = await service.create(ItemCreate(name="Before"))
    await service.get(created.id)

    await service.update(created.id, ItemUpdate(name="After"))

    assert (await service.get(created.id)).name == "After"


async def test_a_missing_item_is_remembered_briefly(service: ItemService, state: AppState) -> None:
    missing = uuid4()
    with pytest.raises(ItemNotFoundError):
        await service.get(missing)

    async with state.session_factory() as other, other.begin():
        other.add(Item(id=missing, name="Appeared later"))

    with pytest.raises(ItemNotFoundError):
        await service.get(missing)


async def test_a_delete_makes_the_cache_forget(service: ItemService) -> None:
    created = await service.create(ItemCreate(name="Doomed"))
    await service.get(created.id)

    await service.delete(created.id)

    with pytest.raises(ItemNotFoundError):
        await service.get(created.id)


async def test_losing_a_unique_name_race_is_a_conflict(state: AppState) -> None:
    """Another writer commits the same name between our check and our commit."""
    async with state.session_factory() as other, other.begin():
        other.add(Item(name="Contended"))
    racing = ItemService(state.session_factory, state.cache, repository=_BlindRepository)

    with pytest.raises(ItemNameTakenError):
        await racing.create(ItemCreate(name="Contended"))


class _BlindRepository(ItemRepository):
    """Does not see existing names, as a writer that checked just before another committed."""

    async def get_by_name(self, name: str) -> Item | None:
        return None
