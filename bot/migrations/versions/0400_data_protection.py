"""data protection: retention, erasure, audit, adviser organisations (issue 13)

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0400"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE (never batch mode), as in 0200: a batch rebuild of
# "conversations" on SQLite would cascade-delete every message.


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column(
            "anonymised_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_table(
        "adviser_memberships",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("adviser_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(length=16), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_adviser_memberships_adviser_id_advisers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_adviser_memberships_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adviser_memberships")),
        sa.UniqueConstraint(
            "adviser_id", "organisation_id", name="uq_adviser_memberships_pair"
        ),
    )
    op.create_index(
        op.f("ix_adviser_memberships_adviser_id"),
        "adviser_memberships",
        ["adviser_id"],
        unique=False,
    )
    # The advisers there are keep what they could see: one tied to an
    # organisation becomes its adviser, one without any sees every area.
    op.execute(
        "INSERT INTO adviser_memberships (adviser_id, organisation_id, role, "
        "created_at) SELECT id, organisation_id, CASE WHEN organisation_id IS "
        "NULL THEN 'national' ELSE 'adviser' END, created_at FROM advisers"
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("adviser_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column(
            "conversations", sa.Integer(), server_default="0", nullable=False
        ),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["adviser_id"],
            ["advisers.id"],
            name=op.f("fk_audit_log_adviser_id_advisers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_log_conversation_id"),
        "audit_log",
        ["conversation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_conversation_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(
        op.f("ix_adviser_memberships_adviser_id"), table_name="adviser_memberships"
    )
    op.drop_table("adviser_memberships")
    op.drop_column("conversations", "anonymised_at")
