"""Console search on PostgreSQL: a trigram index on message text

Revision ID: 1300
Revises: 1200
Create Date: 2026-12-01 23:00:00.000000

The console's search looks for text anywhere in a message (``ILIKE '%word%'``),
which no B-tree index can serve: at 10,000 conversations every search read all
messages. ``pg_trgm`` (in PostgreSQL's contrib, a trusted extension since 13, so
the database owner may create it) gives a GIN index that ``ILIKE`` uses.
Where the extension is not installable the index is skipped with a warning:
search still works, reading every message as before. SQLite: nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1300"
down_revision: str | None = "1200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")
INDEX = "ix_messages_content_trgm"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        logger.warning(
            "pg_trgm is not available on this PostgreSQL server: console search "
            "works without its index (install postgresql-contrib for it)"
        )
        return
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    op.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON messages "
            "USING gin (content gin_trgm_ops)"
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(f"DROP INDEX IF EXISTS {INDEX}"))
    # the extension stays: something else in the database may use it
