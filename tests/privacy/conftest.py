"""Privacy fixtures: a migrated database on each backend with Rasa's tracker
table, conversations carrying a unique marker in every place a person's data
goes, and a log directory."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, String, Table, Text, func, inspect, select, text
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.migrate import upgrade
from bot.db.models import (
    Adviser,
    Conversation,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Nation,
    Outbox,
    OutboxState,
)
from bot.db.session import get_engine, session_scope
from bot.settings import get_settings
from tests.conftest import create_database

# Rasa 3.6's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent), as
# Rasa creates it: the tests write events the way Rasa does, one row each.
RASA_EVENTS_DDL = """
CREATE TABLE events (
    id {pk},
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
)
"""


def _prepare(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pk = (
        "INTEGER PRIMARY KEY AUTOINCREMENT"
        if url.startswith("sqlite")
        else "SERIAL PRIMARY KEY"
    )
    with get_engine(url).begin() as conn:
        conn.execute(text(RASA_EVENTS_DDL.format(pk=pk)))
        conn.execute(text("CREATE INDEX ix_events_sender_id ON events (sender_id)"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "log"))
    (tmp_path / "log").mkdir(exist_ok=True)
    get_settings.cache_clear()


@pytest.fixture
def db_url(
    migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated database with Rasa's events table; the settings point at it
    and at a log directory of the test's own."""
    _prepare(migrated_db_url, tmp_path, monkeypatch)
    yield migrated_db_url
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same on SQLite only (for what is about the database file itself)."""
    url, drop = create_database("sqlite", tmp_path)
    upgrade(url)
    _prepare(url, tmp_path, monkeypatch)
    yield url
    get_settings.cache_clear()
    get_engine(url).dispose()
    drop()


@dataclass
class Person:
    """One person's conversation and the marker hidden in all of it."""

    conversation_id: str
    marker: str
    email: str
    telegram_user: str | None


def make_person(
    db_url: str,
    *,
    channel: str = "web",
    last_active: datetime | None = None,
    telegram_user: str | None = None,
) -> Person:
    """Store a conversation with the marker in a message each way, a note, the
    hand-over summary, the contact email, the outbox and Rasa's events."""
    marker = "MARK" + secrets.token_hex(8)
    email = f"{marker.lower()}@example.org"
    when = last_active or utcnow()
    cid = secrets.token_urlsafe(24)
    with session_scope(db_url) as s:
        if s.get(LocalAuthority, "E07000001") is None:
            s.add(
                LocalAuthority(
                    code="E07000001",
                    name="Northdale",
                    la_type="Non-metropolitan district",
                    nation=Nation.ENGLAND,
                )
            )
        adviser = s.scalar(select(Adviser).where(Adviser.username == "jo"))
        if adviser is None:
            adviser = Adviser(
                username="jo", display_name="Jo Adviser", password_hash="-"
            )
            s.add(adviser)
            s.flush()
        s.add(
            Conversation(
                id=cid,
                channel=channel,
                channel_user_id=telegram_user,
                status=ConversationStatus.RESOLVED,
                topic="funding",
                subtopic="grants",
                place_name=f"{marker} village",
                lad_code="E07000001",
                contact_email=email,
                outcome="answered",
                created_at=when - timedelta(hours=1),
                updated_at=when,
            )
        )
        s.flush()
        texts = [
            (MessageType.INCOMING, "person", f"We need a grant, I am {marker}"),
            (MessageType.OUTGOING, "bot", f"Thanks {marker}, here is guidance"),
            (MessageType.NOTE, "adviser", f"Note about {marker}"),
            (MessageType.OUTGOING, "adviser", f"Hello {marker}, an adviser here"),
        ]
        for i, (kind, sender, body) in enumerate(texts):
            m = Message(
                conversation_id=cid,
                message_type=kind,
                sender=sender,
                adviser_id=adviser.id if sender == "adviser" else None,
                content=body,
                channel=channel,
                source_id=f"{marker}-{i}" if kind is MessageType.INCOMING else None,
                created_at=when - timedelta(minutes=10 - i),
            )
            s.add(m)
            s.flush()
            if kind is MessageType.OUTGOING:
                s.add(
                    Outbox(
                        message_id=m.id,
                        conversation_id=cid,
                        channel=channel,
                        state=OutboxState.FAILED,
                        last_error=f"could not send to {marker}",
                        created_at=when,
                    )
                )
        s.add(
            Handoff(
                conversation_id=cid,
                reason="asked_for_person",
                topic="funding",
                place_name=f"{marker} village",
                lad_code="E07000001",
                organisation_names=["Testshire CVS"],
                summary=f"{marker} wants a grant",
                last_messages=[{"sender": "person", "text": marker}],
                created_at=when - timedelta(minutes=5),
                resolved_at=when,
                outcome="answered",
            )
        )
        for kind, data in (
            ("user", {"event": "user", "text": f"We need a grant, I am {marker}"}),
            ("slot", {"event": "slot", "name": "contact_email", "value": email}),
            ("bot", {"event": "bot", "text": f"Thanks {marker}"}),
        ):
            s.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, "
                    "intent_name, data) VALUES (:s, :t, :ts, :i, :d)"
                ),
                {
                    "s": cid,
                    "t": kind,
                    "ts": when.timestamp(),
                    "i": "ask_funding" if kind == "user" else None,
                    "d": json.dumps(data),
                },
            )
    return Person(cid, marker, email, telegram_user)


def rows_mentioning(db_url: str, needle: str) -> list[str]:
    """Return "table.column" for every text value in the database that holds
    ``needle``, in any case (every table, the tracker store's included)."""
    found = []
    engine = get_engine(db_url)
    with Session(engine) as s:
        names = inspect(s.connection()).get_table_names()
        for name in names:
            table = Table(name, MetaData(), autoload_with=s.connection())
            for column in table.columns:
                if (
                    isinstance(column.type, String | Text)
                    or "JSON" in str(column.type).upper()
                ):
                    hit = s.execute(
                        select(column)
                        .where(func.lower(column.cast(Text)).contains(needle.lower()))
                        .limit(1)
                    ).first()
                    if hit is not None:
                        found.append(f"{name}.{column.name}")
    return found


def log_line(db_url: str, message: str, **extra: str) -> str:
    """Append a JSON log line, as the gateway writes them, to gateway.log."""
    path = get_settings().log_dir / "gateway.log"
    line = json.dumps({"level": "INFO", "msg": message, **extra})
    with path.open("a") as f:
        f.write(line + "\n")
    return line
