"""Telegram: attachments, edits, sources, update de-duplication (issue 11)

Revision ID: 0700
Revises: 0600
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0700"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_messages",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("tg_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("edited", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("file_id", sa.String(length=200), nullable=True),
        sa.Column("file_unique_id", sa.String(length=100), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_telegram_messages_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_telegram_messages")),
    )
    op.create_index(
        "ix_telegram_messages_chat",
        "telegram_messages",
        ["chat_id", "tg_message_id"],
        unique=False,
    )
    op.create_table(
        "telegram_profiles",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column(
            "updated_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_telegram_profiles_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_telegram_profiles")),
    )


def downgrade() -> None:
    op.drop_table("telegram_profiles")
    op.drop_index("ix_telegram_messages_chat", table_name="telegram_messages")
    op.drop_table("telegram_messages")
