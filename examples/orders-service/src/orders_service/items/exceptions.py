"""What can go wrong with items, in domain terms."""

from __future__ import annotations

from uuid import UUID

from ..core.problems import ConflictError, NotFoundError


class ItemNotFoundError(NotFoundError):
    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"Item {item_id} does not exist.")


class ItemNameTakenError(ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(f"An item named '{name}' already exists.")
