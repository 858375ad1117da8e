"""Index items by creation time: pages are ordered by it, and the item id filter's sync
reads the ids created since its previous run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_items_created_at"), "items", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_items_created_at"), table_name="items")
