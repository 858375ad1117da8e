"""How endpoints get an ItemService."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..cache.known_ids import KnownIds
from ..state import StateDep, StateKey
from .service import ItemService

# Opened by the domain's lifespan (domain.py): None while the settings turn filters off.
KNOWN_IDS = StateKey[KnownIds | None]("items.known_ids")


async def get_item_service(state: StateDep) -> ItemService:
    return ItemService(state.session_factory, state.cache, known_ids=state[KNOWN_IDS])


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
