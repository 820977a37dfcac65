"""Rasa's SQL tracker store, with the SQLite settings the app's own engine uses.

Why: Rasa's SQLTrackerStore opens SQLite with the driver's defaults, so in the
embedded profile every turn's commit waits for an fsync (synchronous=FULL) and a
write that meets the gateway's or the action server's write fails at once
instead of waiting its turn. The app's engine (bot/db/session.py) already puts the
same file in WAL mode with synchronous=NORMAL: a commit is durable once the
write-ahead log is synced at a checkpoint, and readers never block the writer.
This store gives Rasa's connections the same settings and a busy timeout.

What: SQLTrackerStore's `events` table, rows and session handling unchanged, with
(on SQLite) a connect hook and one kept connection; PostgreSQL keeps the engine
Rasa configures. Its three statements (a session's events, their count, the
insert) are built once instead of per message: profiled under load, SQLAlchemy
1.4 building the ORM queries (`or_`, `count()`) and flushing one ORM object per
event took 29% of the Rasa process, more than the NLU model. The same SQL, as
Core statements with bound parameters, is compiled once and cached. Configured
in endpoints.yml:

    tracker_store:
      type: rasa_addons.tracker_store.FrontDoorSQLTrackerStore
      url: ${TRACKER_STORE_URL}
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.pool import SingletonThreadPool

# how long a writer waits for another's transaction before giving up (ms)
BUSY_TIMEOUT_MS = 10_000
# trackers kept after a save for the channel to take (oldest dropped first)
SAVED_KEPT = 256

logger = logging.getLogger(__name__)


class EventStatements:
    """SQLTrackerStore's queries on `events`, built once, parameter `sender_id`.

    The same SQL as Rasa's `_event_query`: the events of the conversation's
    latest session (from its latest `session_started`, or all if there is none)
    in id order; their count; all sessions' events; the insert.
    """

    def __init__(self, table: sa.Table) -> None:
        c = table.c
        sender = sa.bindparam("sender_id")
        start = (
            sa.select(sa.func.max(c.timestamp))
            .where(c.sender_id == sender, c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        in_session = sa.and_(
            c.sender_id == sender, sa.or_(c.timestamp >= start, start.is_(None))
        )
        self.latest = sa.select(c.data).where(in_session).order_by(c.id)
        self.count = sa.select(sa.func.count()).select_from(table).where(in_session)
        self.every = sa.select(c.data).where(c.sender_id == sender).order_by(c.id)
        self.insert = table.insert()


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, synchronous=NORMAL and a busy timeout on one SQLite connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Freed pages zeroed, as on the app's connections (bot/db/session.py):
        # Rasa's own page splits must not leave copies of erased events behind.
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


class FrontDoorSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose SQLite connections use WAL and synchronous=NORMAL.

    It also keeps the tracker it last saved for each conversation until the
    gateway's channel takes it (`take_saved`): the channel answers with the
    message's intent and the pause state, which it read by fetching the tracker
    again, a second query, JSON parse and replay of every event per message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._saved: "OrderedDict[str, DialogueStateTracker]" = OrderedDict()
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            # SQLAlchemy 1.4 opens and closes a file database's connection for
            # every session (NullPool); closing the last connection to a WAL file
            # checkpoints it. One connection kept per thread (Rasa calls the
            # store from its event loop's thread) avoids both.
            self.engine = sa.create_engine(url, poolclass=SingletonThreadPool)
            event.listen(self.engine, "connect", sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        # A failed statement's error in rasa.log leaves out the bound values
        # (an event's data: the person's words), as on the app's engine.
        self.engine.hide_parameters = True
        self.statements = EventStatements(self.SQLEvent.__table__)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """SQLTrackerStore._retrieve with the prepared statements."""
        query = (
            self.statements.every
            if fetch_events_from_all_sessions
            else self.statements.latest
        )
        with self.session_scope() as session:
            rows = session.execute(query, {"sender_id": sender_id}).scalars().all()
        events = [json.loads(data) for data in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """SQLTrackerStore.save with the prepared statements: the events of the
        latest session not stored yet, in one multi-row insert."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        with self.session_scope() as session:
            stored = session.execute(
                self.statements.count, {"sender_id": sender_id}
            ).scalar_one()
            rows: List[Dict[str, Any]] = []
            for event in itertools.islice(tracker.events, stored, len(tracker.events)):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                session.execute(self.statements.insert, rows)
            session.commit()
        self._saved[tracker.sender_id] = tracker
        self._saved.move_to_end(tracker.sender_id)
        while len(self._saved) > SAVED_KEPT:
            self._saved.popitem(last=False)

    def take_saved(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The tracker this process saved last for `sender_id`, once; else None."""
        return self._saved.pop(sender_id, None)
