"""the outbox of outgoing messages, incoming messages marked answered, Rasa's pause

Revision ID: 0300
Revises: 0200
Create Date: 2026-12-01 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE (never batch mode), as in 0200: a batch rebuild of
# "conversations" on SQLite would cascade-delete every message.


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column(
            "answered_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    # What was stored before this revision was answered (or dropped) then: the
    # sweeper must not answer it again.
    op.execute(
        "UPDATE messages SET answered_at = created_at "
        "WHERE message_type = 'incoming' AND answered_at IS NULL"
    )
    op.add_column(
        "conversations",
        sa.Column(
            "bot_paused", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "delivered_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_outbox_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_outbox_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(
        "ix_outbox_due", "outbox", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_outbox_conversation", "outbox", ["conversation_id", "id"], unique=False
    )
    op.create_index(
        "ix_messages_unanswered",
        "messages",
        ["message_type", "answered_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unanswered", table_name="messages")
    op.drop_index("ix_outbox_conversation", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_column("conversations", "bot_paused")
    op.drop_column("messages", "answered_at")
