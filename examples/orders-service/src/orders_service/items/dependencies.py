"""How endpoints get an ItemService."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..state import StateDep
from .service import ItemService


async def get_item_service(state: StateDep) -> ItemService:
    return ItemService(state.session_factory, state.cache, known_ids=state.item_ids)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
