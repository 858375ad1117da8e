"""Request-scoped dependencies, as `Annotated` aliases endpoints can declare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ..cache import CacheAside
from ..state import AppState


def get_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.resources)


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A session per request; anything not committed is rolled back when it closes."""
    async with state.session_factory() as session:
        yield session


def get_cache(state: StateDep) -> CacheAside:
    return state.cache


SessionDep = Annotated[AsyncSession, Depends(get_session)]
CacheDep = Annotated[CacheAside, Depends(get_cache)]
