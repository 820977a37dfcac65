"""Where a person's data lives, and how to find and remove it in each store.

The stores: the app's tables (conversations and every table that refers to
them, found from the models' foreign keys, so a table added later is covered),
Rasa's tracker store (its ``events`` table in the same database, one row per
event, keyed by the conversation id as Rasa's sender id), the outbox (refers to
messages) and the service logs under ``LOG_DIR`` (they carry conversation ids,
never message text at INFO and above).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    delete,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from bot.db.base import Base
from bot.db.models import Conversation, Message, MessageType

log = logging.getLogger(__name__)

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent)
TRACKER_TABLE = "events"
TELEGRAM = "telegram"


# --------------------------------------------------------------------------------
# Finding a person's conversations
# --------------------------------------------------------------------------------


def find_conversations(
    session: Session,
    *,
    conversation_id: str | None = None,
    email: str | None = None,
    telegram_user: str | None = None,
) -> list[str]:
    """Return the ids of the conversations one selector names, oldest first.

    An email address finds the conversations that gave it as their contact
    address and those where the person typed it in a message.
    """
    query = select(Conversation.id)
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    elif email is not None:
        address = email.strip().lower()
        if "@" not in address:
            return []
        typed = select(Message.conversation_id).where(
            Message.message_type == MessageType.INCOMING,
            func.lower(Message.content).contains(address, autoescape=True),
        )
        query = query.where(
            or_(
                func.lower(Conversation.contact_email) == address,
                Conversation.id.in_(typed),
            )
        )
    elif telegram_user is not None:
        query = query.where(
            Conversation.channel == TELEGRAM,
            Conversation.channel_user_id == telegram_user.strip(),
        )
    else:
        raise ValueError("name a conversation, an email address or a Telegram user")
    return list(session.scalars(query.order_by(Conversation.created_at)))


# --------------------------------------------------------------------------------
# The app's tables
# --------------------------------------------------------------------------------


def _children(table: Table) -> list[tuple[Table, Column[object], Column[object]]]:
    """Return (child table, its foreign key column, the column it refers to)."""
    found = []
    for child in Base.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is table:
                found.append((child, fk.parent, fk.column))
    return found


def delete_rows(
    session: Session,
    table: Table,
    where: ColumnElement[bool],
    _seen: frozenset[str] = frozenset(),
) -> int:
    """Delete rows of ``table`` and, first, every row that refers to them
    (through the models' foreign keys, however deep); return rows deleted here."""
    if table.name in _seen:
        return 0
    seen = _seen | {table.name}
    for child, fk_column, referred in _children(table):
        if child is table:
            continue
        keys = select(referred).where(where)
        delete_rows(session, child, fk_column.in_(keys), seen)
    result = session.execute(delete(table).where(where))
    return int(getattr(result, "rowcount", 0) or 0)


def tables_referring_to_conversations() -> list[str]:
    """Return the names of the tables with a foreign key to conversations."""
    table = Conversation.__table__
    assert isinstance(table, Table)
    return sorted({child.name for child, _, _ in _children(table)})


# --------------------------------------------------------------------------------
# Rasa's tracker store
# --------------------------------------------------------------------------------


def has_tracker_table(session: Session) -> bool:
    """Return whether Rasa has created its events table in this database."""
    return inspect(session.connection()).has_table(TRACKER_TABLE)


def tracker_events(session: Session, conversation_id: str) -> list[dict[str, object]]:
    """Return Rasa's stored events for a conversation (type, time, data)."""
    if not has_tracker_table(session):
        return []
    rows = session.execute(
        text(
            f"SELECT type_name, timestamp, intent_name, action_name, data "  # noqa: S608
            f"FROM {TRACKER_TABLE} WHERE sender_id = :sender ORDER BY id"
        ),
        {"sender": conversation_id},
    )
    return [dict(r._mapping) for r in rows]


def delete_tracker_events(session: Session, conversation_ids: Sequence[str]) -> int:
    """Delete Rasa's events of these conversations; return how many."""
    if not conversation_ids or not has_tracker_table(session):
        return 0
    deleted = 0
    for start in range(0, len(conversation_ids), 500):
        chunk = list(conversation_ids[start : start + 500])
        params = {f"s{i}": cid for i, cid in enumerate(chunk)}
        names = ", ".join(f":s{i}" for i in range(len(chunk)))
        result = session.execute(
            text(f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN ({names})"),  # noqa: S608
            params,
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


# --------------------------------------------------------------------------------
# SQLite: no copy left behind
# --------------------------------------------------------------------------------


def checkpoint_wal(bind: Engine | Connection) -> None:
    """On SQLite, copy the write-ahead log into the database and empty it.

    With ``secure_delete`` (bot/db/session.py) a deleted row is overwritten with
    zeros in its page, but the WAL file still holds the older copies of the
    pages it was written in until they are overwritten: TRUNCATE checkpoints and
    cuts the WAL to nothing. Outside a transaction; PostgreSQL: nothing to do.
    """
    if bind.dialect.name != "sqlite":
        return
    engine = bind.engine
    with engine.connect() as conn:
        for _ in range(5):
            busy, _log, _done = conn.exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).one()
            if not busy:
                return
        log.warning("privacy: the SQLite WAL could not be truncated (busy)")


# --------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------


def scrub_logs(log_dir: Path, needles: Iterable[str]) -> int:
    """Remove every log line under ``log_dir`` that mentions one of ``needles``
    (conversation ids, a Telegram id, an email address); return lines removed.

    Services append to their logs (O_APPEND), so rewriting a file in place keeps
    their later lines; a line written between the read and the rewrite of that
    one file is lost, which a log can afford.
    """
    words = sorted({n for n in needles if n and len(n) >= 4})
    if not words or not log_dir.is_dir():
        return 0
    pattern = re.compile(
        "|".join(rf"(?<![\w@.-]){re.escape(w)}(?![\w-])" for w in words).encode(),
        re.IGNORECASE,
    )
    removed = 0
    for path in sorted(log_dir.rglob("*.log*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if not pattern.search(data):
            continue
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if not pattern.search(line)]
        removed += len(lines) - len(kept)
        with path.open("r+b") as f:
            f.write(b"".join(kept))
            f.truncate()
    return removed
