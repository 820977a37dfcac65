"""Apply Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.db.session import normalise_url
from bot.settings import PROJECT_ROOT, get_settings


def alembic_config(database_url: str | None = None) -> Config:
    """Return the Alembic config for ``database_url`` (default: configured)."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    cfg.attributes["database_url"] = normalise_url(
        database_url or get_settings().database_url
    )
    return cfg


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    """Downgrade the database to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
