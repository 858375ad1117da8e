"""Every table, imported in one place so Alembic's autogenerate sees them all."""

from __future__ import annotations

from .core.db import Base
from .items.models import Item

__all__ = ["Base", "Item"]
