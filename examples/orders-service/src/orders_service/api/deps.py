"""Request-scoped dependencies, as `Annotated` aliases endpoints can declare.

All are `async def`: FastAPI runs a plain `def` dependency in a worker thread, which
costs more than the dependency itself on every request.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from ..state import AppState


async def get_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.resources)


StateDep = Annotated[AppState, Depends(get_state)]
