"""What can go wrong with orders, in domain terms."""

from __future__ import annotations

from uuid import UUID

from ..core.problems import ConflictError, NotFoundError


class OrderNotFoundError(NotFoundError):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(f"Order {order_id} does not exist.")


class OrderNameTakenError(ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(f"An order named '{name}' already exists.")
