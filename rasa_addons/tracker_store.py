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

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.pool import SingletonThreadPool

# how long a writer waits for another's transaction before giving up (ms)
BUSY_TIMEOUT_MS = 10_000


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, synchronous=NORMAL and a busy timeout on one SQLite connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class FrontDoorSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose SQLite connections use WAL and synchronous=NORMAL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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
