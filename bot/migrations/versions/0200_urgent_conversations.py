"""urgent conversations and messages (the safety net's priority)

Revision ID: 0200
Revises: 0100
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0200"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, never batch mode: on SQLite a batch rebuild drops and
# recreates "conversations", and the drop cascades to every message
# (messages.conversation_id ... ON DELETE CASCADE, with foreign keys on).
# SQLite (3.35+) and PostgreSQL both add and drop these columns in place.


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "conversations",
        sa.Column(
            "urgent_since", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column(
        "messages",
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("messages", "urgent")
    op.drop_column("conversations", "urgent_since")
    op.drop_column("conversations", "urgent")
