"""Alembic migrations from an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from bot.db.base import Base
from bot.db.migrate import downgrade, upgrade
from bot.db.session import get_engine

pytestmark = pytest.mark.integration


def table_names(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_creates_every_table(empty_db_url: str) -> None:
    assert table_names(empty_db_url) == set()
    upgrade(empty_db_url)
    assert table_names(empty_db_url) == set(Base.metadata.tables)


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    assert table_names(empty_db_url) == set()
    upgrade(empty_db_url)
    assert table_names(empty_db_url) == set(Base.metadata.tables)
