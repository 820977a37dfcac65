"""scaled profile (issue 12)

Revision ID: 1000
Revises: 0900
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "1000"
down_revision: str | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reserved in the chain so parallel work can fill it without a second head;
# empty until that work lands.


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
