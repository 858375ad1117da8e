"""OrderService: reads go through the cache, writes make the cache forget."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import event, update

from orders_service.orders.exceptions import OrderNameTakenError, OrderNotFoundError
from orders_service.orders.models import Order
from orders_service.orders.repository import OrderRepository
from orders_service.orders.schemas import OrderCreate, OrderUpdate
from orders_service.orders.service import OrderService
from orders_service.state import AppState


@pytest.fixture
def service(state: AppState) -> OrderService:
    return OrderService(state.session_factory, state.cache)


async def rename_behind_the_cache(state: AppState, order_id: object, name: str) -> None:
    async with state.session_factory() as other, other.begin():
        await other.execute(update(Order).where(Order.id == order_id).values(name=name))


async def test_a_read_is_served_from_the_cache(service: OrderService, state: AppState) -> None:
    created = await service.create(OrderCreate(name="Cached"))
    await service.get(created.id)

    await rename_behind_the_cache(state, created.id, "Changed behind the cache")

    assert (await service.get(created.id)).name == "Cached"


async def test_concurrent_reads_of_an_uncached_order_query_the_database_once(
    service: OrderService, state: AppState
) -> None:
    created = await service.create(OrderCreate(name="Popular"))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(state.engine.sync_engine, "before_cursor_execute", count)
    try:
        readers = [OrderService(state.session_factory, state.cache) for _ in range(20)]
        results = await asyncio.gather(*(reader.get(created.id) for reader in readers))
    finally:
        event.remove(state.engine.sync_engine, "before_cursor_execute", count)

    assert {result.name for result in results} == {"Popular"}
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1


async def test_an_update_makes_the_cache_forget(service: OrderService) -> None:
    created = await service.create(OrderCreate(name="Before"))
    await service.get(created.id)

    await service.update(created.id, OrderUpdate(name="After"))

    assert (await service.get(created.id)).name == "After"


async def test_a_delete_makes_the_cache_forget(service: OrderService) -> None:
    created = await service.create(OrderCreate(name="Doomed"))
    await service.get(created.id)

    await service.delete(created.id)

    with pytest.raises(OrderNotFoundError):
        await service.get(created.id)


async def test_a_missing_order_is_remembered_briefly(
    service: OrderService, state: AppState
) -> None:
    missing = uuid4()
    with pytest.raises(OrderNotFoundError):
        await service.get(missing)

    async with state.session_factory() as other, other.begin():
        other.add(Order(id=missing, name="Appeared later"))

    with pytest.raises(OrderNotFoundError):
        await service.get(missing)


async def test_a_failed_write_changes_nothing(service: OrderService) -> None:
    first = await service.create(OrderCreate(name="First"))
    second = await service.create(OrderCreate(name="Second"))

    with pytest.raises(OrderNameTakenError):
        await service.update(second.id, OrderUpdate(name="First", description="lost"))

    assert (await service.get(second.id)).description == second.description
    assert (await service.page(limit=10, offset=0)).total == 2
    assert (await service.get(first.id)).name == "First"


async def test_losing_a_unique_name_race_is_a_conflict(state: AppState) -> None:
    """Another writer commits the same name between our check and our commit."""
    async with state.session_factory() as other, other.begin():
        other.add(Order(name="Contended"))
    racing = OrderService(state.session_factory, state.cache, repository=_BlindRepository)

    with pytest.raises(OrderNameTakenError):
        await racing.create(OrderCreate(name="Contended"))


class _BlindRepository(OrderRepository):
    """Does not see existing names, as a writer that checked just before another committed."""

    async def get_by_name(self, name: str) -> Order | None:
        return None
