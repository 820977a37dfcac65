"""Rasa's SQL tracker store, with the SQLite settings the app's own engine uses.

Why: Rasa's SQLTrackerStore opens SQLite with the driver's defaults, so in the
embedded profile every turn's commit waits for an fsync (synchronous=FULL) and a
write that meets the gateway's or the action server's write fails at once
instead of waiting its turn. The app's engine (bot/db/session.py) already puts the
same file in WAL mode with synchronous=NORMAL: a commit is durable once the
write-ahead log is synced at a checkpoint, and readers never block the writer.
This store gives Rasa's connections the same settings and a busy timeout.

What: SQLTrackerStore unchanged (the same `events` table, queries and session
handling) but for its SQLite engine: a connect hook and one kept connection.
PostgreSQL is left exactly as Rasa configures it. Configured in endpoints.yml:

    tracker_store:
      type: rasa_addons.tracker_store.FrontDoorSQLTrackerStore
      url: ${TRACKER_STORE_URL}
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.pool import SingletonThreadPool

# how long a writer waits for another's transaction before giving up (ms)
BUSY_TIMEOUT_MS = 10_000
# trackers kept after a save for the channel to take (oldest dropped first)
SAVED_KEPT = 256


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

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        self._saved[tracker.sender_id] = tracker
        self._saved.move_to_end(tracker.sender_id)
        while len(self._saved) > SAVED_KEPT:
            self._saved.popitem(last=False)

    def take_saved(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The tracker this process saved last for `sender_id`, once; else None."""
        return self._saved.pop(sender_id, None)
