"""directory: operator edit layer, audit, reports of wrong entries (issue 14)

Revision ID: 0500
Revises: 0400
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0500"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE and CREATE TABLE (never batch mode: see 0300).


def upgrade() -> None:
    op.add_column(
        "organisations", sa.Column("successor_id", sa.String(length=16), nullable=True)
    )
    op.add_column("organisations", sa.Column("closed_note", sa.Text(), nullable=True))
    op.create_table(
        "lad_code_changes",
        sa.Column("old_code", sa.String(length=9), nullable=False),
        sa.Column("old_name", sa.String(length=120), nullable=False),
        sa.Column("current_code", sa.String(length=9), nullable=False),
        sa.Column("current_name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("old_code", name=op.f("pk_lad_code_changes")),
    )
    op.create_index(
        op.f("ix_lad_code_changes_current_code"),
        "lad_code_changes",
        ["current_code"],
        unique=False,
    )
    op.create_table(
        "organisation_overrides",
        sa.Column("organisation_id", sa.String(length=16), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("shipped", sa.JSON(), nullable=False),
        sa.Column("added", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint(
            "organisation_id", name=op.f("pk_organisation_overrides")
        ),
    )
    op.create_table(
        "organisation_edits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("reverts_id", sa.Integer(), nullable=True),
        sa.Column("reverted_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_edits")),
    )
    op.create_index(
        op.f("ix_organisation_edits_organisation_id"),
        "organisation_edits",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "directory_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("lad_code", sa.String(length=9), nullable=True),
        sa.Column("place_name", sa.String(length=120), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column(
            "resolved_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_reports")),
    )
    op.create_index(
        op.f("ix_directory_reports_organisation_id"),
        "directory_reports",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_directory_reports_organisation_id"), table_name="directory_reports"
    )
    op.drop_table("directory_reports")
    op.drop_index(
        op.f("ix_organisation_edits_organisation_id"), table_name="organisation_edits"
    )
    op.drop_table("organisation_edits")
    op.drop_table("organisation_overrides")
    op.drop_index(
        op.f("ix_lad_code_changes_current_code"), table_name="lad_code_changes"
    )
    op.drop_table("lad_code_changes")
    op.drop_column("organisations", "closed_note")
    op.drop_column("organisations", "successor_id")
