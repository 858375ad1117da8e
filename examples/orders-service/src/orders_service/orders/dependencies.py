"""How endpoints get the OrderService."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..state import StateDep
from .service import OrderService


async def get_order_service(state: StateDep) -> OrderService:
    return OrderService(state.session_factory, state.cache)


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
