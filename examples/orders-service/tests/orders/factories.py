"""Test data for the orders API; override only what a test is about."""

from __future__ import annotations

from itertools import count
from typing import Any

_sequence = count(1)


def order_payload(**overrides: Any) -> dict[str, Any]:
    """A valid body for POST /api/v1/orders, with a unique name."""
    payload: dict[str, Any] = {
        "name": f"Order {next(_sequence)}",
        "description": "Made by a test",
    }
    payload.update(overrides)
    return payload
