"""language per conversation and adviser skills (issue 16)

Revision ID: 0900
Revises: 0800
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0900"
down_revision: str | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE (never batch mode on "conversations": see 0300).


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("language", sa.String(length=2), server_default="en", nullable=False),
    )
    op.add_column(
        "conversations",
        sa.Column(
            "language_source",
            sa.String(length=10),
            server_default="detected",
            nullable=False,
        ),
    )
    op.add_column(
        "advisers",
        sa.Column(
            "languages", sa.String(length=40), server_default="en", nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("advisers", "languages")
    op.drop_column("conversations", "language_source")
    op.drop_column("conversations", "language")
