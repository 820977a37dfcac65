"""Alembic migrations from an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

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


def test_0200_adds_the_urgent_flags_with_false_for_existing_rows(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0100")
    engine = get_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, channel, status, created_at, "
                "updated_at) VALUES ('c-old', 'web', 'queued', :now, :now)"
            ),
            {"now": datetime(2026, 11, 30, 12, 0, tzinfo=UTC)},
        )
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, message_type, sender, "
                "content, channel, created_at) VALUES ('c-old', 'incoming', "
                "'person', 'hello', 'web', :now)"
            ),
            {"now": datetime(2026, 11, 30, 12, 0, tzinfo=UTC)},
        )
    upgrade(empty_db_url)
    columns = {c["name"]: c for c in inspect(engine).get_columns("conversations")}
    assert not columns["urgent"]["nullable"] and columns["urgent_since"]["nullable"]
    message_columns = {c["name"] for c in inspect(engine).get_columns("messages")}
    assert "urgent" in message_columns
    with engine.connect() as conn:
        urgent, since = conn.execute(
            text("SELECT urgent, urgent_since FROM conversations")
        ).one()
        assert (bool(urgent), since) == (False, None)
        # every message survives (a table rebuild on SQLite would cascade-delete)
        assert not conn.execute(text("SELECT urgent FROM messages")).scalar_one()
    downgrade(empty_db_url, "0100")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 1
    columns = {c["name"] for c in inspect(engine).get_columns("conversations")}
    assert "urgent" not in columns and "urgent_since" not in columns
    assert "urgent" not in {c["name"] for c in inspect(engine).get_columns("messages")}
