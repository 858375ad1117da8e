"""The items domain as the service runs it: its routes, and its id filter while the app runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..cache.known_ids import running_known_ids
from ..domain import Domain
from ..state import AppState
from .dependencies import KNOWN_IDS
from .repository import ItemRepository
from .router import router


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    """Load the item id filter in the background (when the settings turn it on)."""
    async with running_known_ids("item", state.settings, state.session, ItemRepository) as ids:
        state[KNOWN_IDS] = ids
        yield


items = Domain(
    name="items",
    description="The example resource: create, read, list, update, delete.",
    router=router,
    lifespan=lifespan,
)
