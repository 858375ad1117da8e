"""How endpoints get an ItemService."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..api.deps import CacheDep, SessionDep
from .repository import ItemRepository
from .service import ItemService


def get_item_service(session: SessionDep, cache: CacheDep) -> ItemService:
    return ItemService(ItemRepository(session), cache)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
