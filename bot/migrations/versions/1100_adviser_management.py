"""advisers managed in the console: sign-ins, first passwords, audit (issue 13)

Revision ID: 1100
Revises: 1000
Create Date: 2026-12-01 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "1100"
down_revision: str | None = "1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE (never batch mode on a table others point at: see 0300).


def upgrade() -> None:
    op.add_column(
        "advisers",
        sa.Column(
            "last_sign_in_at", bot.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column(
        "advisers",
        sa.Column(
            "must_change_password",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
        ),
    )
    # which organisation's team an adviser change was made in (its admins read it)
    op.add_column(
        "audit_log", sa.Column("organisation_id", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("audit_log", "organisation_id")
    op.drop_column("advisers", "must_change_password")
    op.drop_column("advisers", "last_sign_in_at")
