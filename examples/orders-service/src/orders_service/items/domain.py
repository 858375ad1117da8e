"""The items domain as the service runs it: its routes, and its id filter while the app runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from ..cache.known_ids import create_known_ids
from ..domain import Domain
from ..state import AppState
from .dependencies import KNOWN_IDS
from .repository import ItemRepository
from .router import router


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    """Load the item id filter in the background (when the settings turn it on)."""
    known_ids = create_known_ids("item", state.settings, state.session, ItemRepository)
    state[KNOWN_IDS] = known_ids
    if known_ids is None:
        yield
        return
    task = asyncio.create_task(known_ids.run(), name="item-id-filter")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await known_ids.close()


items = Domain(
    name="items",
    description="The example resource: create, read, list, update, delete.",
    router=router,
    lifespan=lifespan,
)
