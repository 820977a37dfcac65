"""console and widget: assignment, saved replies, availability, summaries (issue 10)

Revision ID: 0600
Revises: 0500
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE and CREATE TABLE/INDEX (never batch mode): a batch rebuild of
# "conversations" on SQLite would cascade-delete every message (see 0300).

CONVERSATION_INDEXES = {
    "ix_conversations_queue": ["status", "waiting_since"],
    "ix_conversations_updated_at": ["updated_at"],
    "ix_conversations_created_at": ["created_at"],
    "ix_conversations_contact_email": ["contact_email"],
    "ix_conversations_organisation_id": ["organisation_id"],
    "ix_conversations_lad_code": ["lad_code"],
}


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, bot.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade_console() -> None:
    """The adviser console's part (issue 10, console)."""
    for name, columns in CONVERSATION_INDEXES.items():
        op.create_index(name, "conversations", columns)
    op.add_column(
        "advisers",
        sa.Column(
            "availability",
            sa.String(length=20),
            server_default="available",
            nullable=False,
        ),
    )
    op.create_table(
        "conversation_reads",
        sa.Column("adviser_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        _when("read_at"),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_conversation_reads_adviser_id_advisers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_reads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "adviser_id", "conversation_id", name=op.f("pk_conversation_reads")
        ),
    )
    op.create_table(
        "triage_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("adviser_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.String(length=120), nullable=True),
        sa.Column("new_value", sa.String(length=120), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_triage_corrections_adviser_id_advisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_triage_corrections_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_corrections")),
    )
    op.create_index(
        "ix_triage_corrections_conversation_id",
        "triage_corrections",
        ["conversation_id"],
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("from_organisation_id", sa.String(length=16), nullable=True),
        sa.Column("to_organisation_id", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adviser_id", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_transfers_adviser_id_advisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_transfers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index("ix_transfers_conversation_id", "transfers", ["conversation_id"])
    op.create_index(
        "ix_transfers_to_organisation_id", "transfers", ["to_organisation_id"]
    )
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("adviser_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.String(length=16), nullable=True),
        sa.Column("shortcut", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_saved_replies_adviser_id_advisers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["advisers.id"],
            name=op.f("fk_saved_replies_created_by_advisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_replies")),
    )
    op.create_index("ix_saved_replies_adviser_id", "saved_replies", ["adviser_id"])
    op.create_index(
        "ix_saved_replies_organisation_id", "saved_replies", ["organisation_id"]
    )


def downgrade_console() -> None:
    for table in (
        "saved_replies",
        "transfers",
        "triage_corrections",
        "conversation_reads",
    ):
        op.drop_table(table)
    # dropping a column is a plain ALTER TABLE on SQLite >= 3.35 and PostgreSQL
    op.drop_column("advisers", "availability")
    for name in CONVERSATION_INDEXES:
        op.drop_index(name, table_name="conversations")


def upgrade() -> None:
    upgrade_console()


def downgrade() -> None:
    downgrade_console()
