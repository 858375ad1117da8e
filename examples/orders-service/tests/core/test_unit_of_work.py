"""Transactions: writes commit together or not at all; a duplicate is a conflict, not a crash."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orders_service.core.problems import ConflictError
from orders_service.core.unit_of_work import unit_of_work
from orders_service.items.models import Item
from orders_service.state import AppState


class DuplicateError(ConflictError):
    def __init__(self) -> None:
        super().__init__("Taken.")


async def names(state: AppState) -> list[str]:
    async with state.session() as session:
        return list(await session.scalars(select(Item.name).order_by(Item.name)))


async def test_the_writes_of_a_block_commit_together(state: AppState) -> None:
    async with unit_of_work(state.session_factory, DuplicateError) as session:
        session.add_all([Item(name="first"), Item(name="second")])

    assert await names(state) == ["first", "second"]


async def write_then_fail(state: AppState) -> None:
    async with unit_of_work(state.session_factory, DuplicateError) as session:
        session.add(Item(name="lost"))
        await session.flush()  # sent to the database, not yet committed
        raise RuntimeError


async def test_a_block_that_raises_writes_nothing(state: AppState) -> None:
    with pytest.raises(RuntimeError):
        await write_then_fail(state)

    assert await names(state) == []


async def test_a_duplicate_another_writer_committed_first_is_a_conflict(state: AppState) -> None:
    async with unit_of_work(state.session_factory, DuplicateError) as session:
        session.add(Item(name="taken"))

    with pytest.raises(DuplicateError) as refused:
        async with unit_of_work(state.session_factory, DuplicateError) as session:
            session.add(Item(name="taken"))

    assert isinstance(refused.value.__cause__, IntegrityError)
    assert await names(state) == ["taken"]


async def test_any_other_integrity_error_stays_a_bug(state: AppState) -> None:
    with pytest.raises(IntegrityError):
        async with unit_of_work(state.session_factory, DuplicateError) as session:
            session.add(Item(name=None))
