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


def test_0300_marks_old_messages_answered_and_adds_the_outbox(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0200")
    engine = get_engine(empty_db_url)
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, channel, status, created_at, "
                "updated_at) VALUES ('c-old', 'telegram', 'queued', :now, :now)"
            ),
            {"now": when},
        )
        for kind in ("incoming", "outgoing"):
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, message_type, sender, "
                    "content, channel, created_at) VALUES ('c-old', :kind, "
                    "'person', 'hello', 'telegram', :now)"
                ),
                {"kind": kind, "now": when},
            )
    upgrade(empty_db_url)
    assert "outbox" in table_names(empty_db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT message_type, answered_at FROM messages ORDER BY id")
        ).all()
        # what was stored before was answered (or lost) then: never re-answered
        assert rows[0][0] == "incoming" and rows[0][1] is not None
        assert rows[1][0] == "outgoing" and rows[1][1] is None
        paused = conn.execute(text("SELECT bot_paused FROM conversations")).scalar()
        assert not paused
        # old replies are not re-sent: the outbox starts empty
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
    downgrade(empty_db_url, "0200")
    assert "outbox" not in table_names(empty_db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 2


def test_1200_counts_parts_and_takes_old_telegram_updates_as_answered(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "1100")
    engine = get_engine(empty_db_url)
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, channel, status, created_at, "
                "updated_at) VALUES ('c-tg', 'telegram', 'bot', :now, :now)"
            ),
            {"now": when},
        )
        message_id = conn.execute(
            text(
                "INSERT INTO messages (conversation_id, message_type, sender, "
                "content, channel, created_at) VALUES ('c-tg', 'incoming', "
                "'person', 'hello', 'telegram', :now) RETURNING id"
            ),
            {"now": when},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO telegram_messages (message_id, update_id, chat_id, "
                "kind, edited, details) VALUES (:id, 7, '42', 'text', false, '{}')"
            ),
            {"id": message_id},
        )
    upgrade(empty_db_url)
    with engine.connect() as conn:
        # an update stored before was answered then: later ones never wait for it
        handled = conn.execute(text("SELECT handled_at FROM telegram_messages"))
        assert handled.scalar_one() is not None
    outbox = {c["name"]: c for c in inspect(engine).get_columns("outbox")}
    assert not outbox["parts_sent"]["nullable"]
    downgrade(empty_db_url, "1100")
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT count(*) FROM telegram_messages")
        ).scalar_one() == 1
    assert "parts_sent" not in {
        c["name"] for c in inspect(engine).get_columns("outbox")
    }


def test_1300_gives_postgresql_search_a_trigram_index(empty_db_url: str) -> None:
    """Text search (ILIKE '%word%') uses the index on PostgreSQL; SQLite has none."""
    upgrade(empty_db_url)
    engine = get_engine(empty_db_url)
    indexes = {i["name"] for i in inspect(engine).get_indexes("messages")}
    if engine.dialect.name != "postgresql":
        assert "ix_messages_content_trgm" not in indexes
        return
    assert "ix_messages_content_trgm" in indexes
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM messages "
                    "WHERE content ILIKE '%minibus%'"
                )
            )
        )
    assert "ix_messages_content_trgm" in plan
    downgrade(empty_db_url, "1200")
    indexes = {i["name"] for i in inspect(engine).get_indexes("messages")}
    assert "ix_messages_content_trgm" not in indexes
