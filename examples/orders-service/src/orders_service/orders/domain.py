"""The orders domain as the service runs it: its routes."""

from __future__ import annotations

from ..domain import Domain
from .router import router

orders = Domain(
    name="orders",
    description="Orders: create, read, list, update, delete.",
    router=router,
)
