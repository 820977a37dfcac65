"""Run in the Rasa environment by test_tracker_store.py: prints one JSON report.

    .venv-rasa/bin/python tests/rasa_addons/tracker_store_probe.py DB_FILE save|load
    .venv-rasa/bin/python tests/rasa_addons/tracker_store_probe.py URL sessions[:rasa]

`save` writes a conversation through FrontDoorSQLTrackerStore and reports the
SQLite settings of the store's connection; `load` (a new process, as after a
restart of Rasa) reads it back. `sessions` (SQLite or PostgreSQL) saves two
conversation sessions turn by turn and reports what each read returns.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from rasa_addons.tracker_store import FrontDoorSQLTrackerStore  # noqa: E402


def _texts(tracker: DialogueStateTracker) -> list:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


async def sessions(url: str, kind: str) -> dict:
    """Two sessions saved turn by turn (as Rasa saves after every message), by
    our store or (``kind`` "rasa") by Rasa's own SQLTrackerStore."""
    from rasa.core.tracker_store import SQLTrackerStore
    from sqlalchemy.engine import make_url

    cls = SQLTrackerStore if kind == "rasa" else FrontDoorSQLTrackerStore
    domain = Domain.load(str(ROOT / "domain.yml"))
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        store = cls(domain=domain, host=url)
    else:
        store = cls(
            domain=domain, dialect="postgresql", host=u.host, port=u.port,
            db=u.database, username=u.username, password=u.password,
        )
    out: dict = {"dialect": store.engine.dialect.name}
    tracker = DialogueStateTracker("person-2", domain.slots)
    tracker.update(ActionExecuted("action_session_start", timestamp=1000.0))
    tracker.update(SessionStarted(timestamp=1000.0))
    tracker.update(ActionExecuted("action_listen", timestamp=1000.5))
    for n, text in enumerate(("first question", "second question")):
        tracker.update(UserUttered(text, {"name": "funding", "confidence": 0.9},
                                   timestamp=1001.0 + n))
        tracker.update(BotUttered("an answer", timestamp=1001.2 + n))
        tracker.update(ActionExecuted("action_listen", timestamp=1001.4 + n))
        await store.save(tracker)
    await store.save(tracker)  # nothing new: nothing written twice
    tracker = await store.retrieve("person-2")  # as Rasa reads it for a message
    tracker.update(ActionExecuted("action_session_start", timestamp=2000.0))
    tracker.update(SessionStarted(timestamp=2000.0))
    tracker.update(ActionExecuted("action_listen", timestamp=2000.5))
    tracker.update(UserUttered("a new session", {"name": "greet", "confidence": 1.0},
                               timestamp=2001.0))
    await store.save(tracker)
    latest = await store.retrieve("person-2")
    full = await store.retrieve_full_tracker("person-2")
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT type_name, intent_name, action_name FROM events "
            "WHERE sender_id = 'person-2' ORDER BY id").fetchall()
    out["rows"] = len(rows)
    out["events"] = len(tracker.events)
    out["intents"] = [r[1] for r in rows if r[0] == "user"]
    out["actions"] = sorted({r[2] for r in rows if r[0] == "action"})
    out["latest_texts"] = _texts(latest)
    out["full_texts"] = _texts(full)
    out["missing"] = await store.retrieve("nobody")
    store.engine.dispose()
    return out


async def main(db: str, mode: str) -> dict:
    if mode.startswith("sessions"):
        return await sessions(db, mode.partition(":")[2])
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = FrontDoorSQLTrackerStore(domain=domain, host=f"sqlite:///{db}")
    out: dict = {"pool": type(store.engine.pool).__name__}
    if mode == "save":
        tracker = DialogueStateTracker("person-1", domain.slots)
        for text in ("hello", "we need a grant for our hall roof"):
            tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
            tracker.update(ActionExecuted("utter_greet"))
            tracker.update(BotUttered("hi"))
            tracker.update(ActionExecuted("action_listen"))
        slot = next(iter(domain.slots)).name
        tracker.update(SlotSet(slot, "kept"))
        await store.save(tracker)
        await store.save(tracker)  # nothing new: nothing written twice
        out["slot"] = slot
        # the channel takes the saved tracker once, through Rasa's wrappers
        from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore

        from rasa_addons.frontdoor_channel import saved_tracker

        wrapped = FailSafeTrackerStore(AwaitableTrackerStore(store))
        out["taken_is_saved"] = saved_tracker(wrapped, "person-1") is tracker
        out["taken_again"] = saved_tracker(wrapped, "person-1")
        out["other_store"] = saved_tracker(object(), "person-1")
    with store.engine.connect() as conn:
        out["journal_mode"] = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        out["synchronous"] = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        out["busy_timeout"] = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        out["rows"] = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    tracker = await store.retrieve("person-1")
    out["texts"] = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    out["slots"] = {k: v for k, v in tracker.current_slot_values().items() if v}
    return out


if __name__ == "__main__":
    print("PROBE-JSON " + json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
