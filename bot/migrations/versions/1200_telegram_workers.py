"""Telegram across several workers: parts sent per outbox row, updates handled

Revision ID: 1200
Revises: 1100
Create Date: 2026-12-01 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "1200"
down_revision: str | None = "1100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # how many parts of a long message the channel has accepted: a retry, by
    # any worker, sends only the rest
    op.add_column(
        "outbox",
        sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False),
    )
    # when the channel finished answering the update: a later update of the
    # same chat, on any worker, waits for the earlier ones
    op.add_column(
        "telegram_messages",
        sa.Column(
            "handled_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.execute(
        sa.text("UPDATE telegram_messages SET handled_at = CURRENT_TIMESTAMP")
    )


def downgrade() -> None:
    with op.batch_alter_table("telegram_messages") as batch:
        batch.drop_column("handled_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parts_sent")
