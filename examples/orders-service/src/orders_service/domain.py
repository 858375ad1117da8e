"""The contract a domain implements to plug into the service.

A domain is a package of its own (`items/`, `orders/`): its routes, and the work it does
while the app runs. It exports one `Domain`, registered in `domains.py`; the app serves its
router under `/api/v1`, documents its tag, and runs its `lifespan` with the app's state.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import APIRouter

from .state import AppState

# Opened after the app's state and closed before it: a domain's start-up work (loading a
# filter, starting a consumer) puts what its routes need into the state under a StateKey.
DomainLifespan = Callable[[AppState], AbstractAsyncContextManager[None]]


@dataclass(frozen=True, slots=True)
class Domain:
    """What a domain contributes: `name` is its OpenAPI tag."""

    name: str
    description: str
    router: APIRouter
    lifespan: DomainLifespan | None = None

    @property
    def tag(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description}
