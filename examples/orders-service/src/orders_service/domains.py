"""The service's domains, served in this order: `make domain NAME=...` adds one here.

This file is the team's: `copier update` never changes it.
"""

from __future__ import annotations

from .domain import Domain
from .items.domain import items
from .orders.domain import orders

DOMAINS: list[Domain] = [
    items,
    orders,
]
