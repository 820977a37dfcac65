"""Alembic environment: migrates the configured database (or the URL given)."""

from __future__ import annotations

from alembic import context

from bot.db import models  # noqa: F401  (registers the tables)
from bot.db.base import Base
from bot.db.session import get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = get_engine(url or None)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
