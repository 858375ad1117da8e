"""The item id filter: reads of ids never created stop before the cache and the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import NoReturn
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from orders_service.cache.bloom import (
    Filter,
    MemoryFilter,
)
from orders_service.cache.known_ids import (
    KnownIds,
    create_known_ids,
)
from orders_service.config import Settings
from orders_service.items.dependencies import (
    KNOWN_IDS,
)
from orders_service.items.exceptions import ItemNotFoundError
from orders_service.items.models import Item
from orders_service.items.repository import (
    ItemRepository,
)
from orders_service.items.schemas import ItemCreate
from orders_service.items.service import ItemService
from orders_service.state import (
    AppState,
    app_state,
)
from tests.apps import client_of, delete_all_rows, running_app

ITEMS = "/api/v1/items"


class BrokenFilter:
    """A filter whose store fails, as Redis does when it is down."""

    def __init__(self) -> None:
        self.calls = 0

    async def add(self, keys: Iterable[str]) -> None:
        self._fail()

    async def might_contain(self, key: str) -> bool:
        self._fail()

    async def close(self) -> None:
        """Nothing to release."""

    def _fail(self) -> NoReturn:
        self.calls += 1
        raise ConnectionError("filter store is down")


def known_ids(state: AppState, bloom: Filter | None = None) -> KnownIds:
    bloom = MemoryFilter(1_000, 0.001) if bloom is None else bloom
    return KnownIds("item", bloom, state.session, ItemRepository, sync_seconds=0.01)


@pytest.fixture
def queries(state: AppState) -> Iterator[list[str]]:
    """The SQL statements the app sends meanwhile."""
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(state.engine.sync_engine, "before_cursor_execute", record)
    yield statements
    event.remove(state.engine.sync_engine, "before_cursor_execute", record)


async def insert_behind_the_service(state: AppState, name: str) -> UUID:
    """A row another replica (without the filter) created."""
    async with state.session_factory() as session, session.begin():
        item = Item(name=name)
        session.add(item)
    return item.id


async def test_ids_never_created_stop_before_the_database(
    state: AppState, queries: list[str]
) -> None:
    existing = await insert_behind_the_service(state, "Existing")
    ids = known_ids(state)
    assert await ids.load() == 1
    service = ItemService(state.session_factory, state.cache, known_ids=ids)
    queries.clear()

    with pytest.raises(ItemNotFoundError):
        await service.get(uuid4())

    assert queries == []
    assert (await service.get(existing)).name == "Existing"


async def test_until_loaded_every_id_may_exist(state: AppState) -> None:
    ids = known_ids(state)

    assert not ids.loaded
    assert await ids.may_exist(uuid4())


async def test_a_created_item_is_known_before_its_row_commits(state: AppState) -> None:
    ids = known_ids(state)
    await ids.load()
    seen_by_readers: list[bool] = []
    original = ids.add

    async def add_then_look(id_: UUID) -> None:
        await original(id_)
        seen_by_readers.append(await ids.may_exist(id_))

    ids.add = add_then_look  # type: ignore[method-assign]
    service = ItemService(state.session_factory, state.cache, known_ids=ids)

    created = await service.create(ItemCreate(name="New"))

    assert seen_by_readers == [True]
    assert (await service.get(created.id)).name == "New"


async def test_a_sync_adds_what_other_writers_created(state: AppState) -> None:
    ids = known_ids(state)
    await ids.load()
    elsewhere = await insert_behind_the_service(state, "Made elsewhere")
    missed_before = not await ids.may_exist(elsewhere)

    assert await ids.sync() >= 1

    assert missed_before, "a fresh random id is (almost surely) not in a 1,000-key filter"
    assert await ids.may_exist(elsewhere)


async def test_a_sync_looks_back_by_the_margin(state: AppState) -> None:
    bloom = MemoryFilter(1_000, 0.001)
    ids = KnownIds(
        "item", bloom, state.session, ItemRepository, sync_seconds=1, margin=timedelta(hours=1)
    )
    await ids.load()
    await insert_behind_the_service(state, "Committed late")

    assert await ids.sync() == 1
    assert await ids.sync() == 1, "still inside the margin: added again, harmlessly"


async def test_a_failing_filter_is_skipped(
    state: AppState, caplog: pytest.LogCaptureFixture
) -> None:
    bloom = BrokenFilter()
    ids = known_ids(state, bloom)
    await ids.sync()  # loads: no rows, so no call to the broken store

    await ids.add(uuid4())
    answers = [await ids.may_exist(uuid4()) for _ in range(8)]

    assert answers == [True] * 8
    assert bloom.calls == 1 + 5, "the breaker opens after five failures"
    assert "missed a new id until its next sync" in caplog.text


async def test_run_loads_then_keeps_syncing(state: AppState) -> None:
    ids = known_ids(state)
    task = asyncio.create_task(ids.run())
    try:
        await asyncio.wait_for(ids.wait_until_loaded(), timeout=10)
        elsewhere = await insert_behind_the_service(state, "Synced by the loop")
        for _ in range(200):
            if await ids.may_exist(elsewhere):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert await ids.may_exist(elsewhere)


def test_off_unless_enabled(settings: Settings, state: AppState) -> None:
    assert create_known_ids("item", settings, state.session, ItemRepository) is None


@pytest.fixture
async def filtered_app(settings: Settings) -> AsyncIterator[FastAPI]:
    enabled = settings.model_copy(update={"bloom_filter_enabled": True, "cache_url": "memory://"})
    async with running_app(enabled) as app:
        yield app
        await delete_all_rows(app_state(app))


async def test_the_api_answers_404_for_ids_never_created(filtered_app: FastAPI) -> None:
    state = app_state(filtered_app)
    filter_ = state[KNOWN_IDS]
    assert filter_ is not None
    await asyncio.wait_for(filter_.wait_until_loaded(), timeout=10)
    async with client_of(filtered_app) as client:
        created = (await client.post(ITEMS, json={"name": "Filtered"})).json()
        unknown = uuid4()

        found = await client.get(f"{ITEMS}/{created['id']}")
        missing = await client.get(f"{ITEMS}/{unknown}")

    assert found.status_code == 200
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"Item {unknown} does not exist."
    assert await state.cache.peek(f"items:{unknown}") is None, "nothing cached for it"
