"""Run in the Rasa environment by test_tracker_store.py: prints one JSON report.

    .venv-rasa/bin/python tests/rasa_addons/tracker_store_probe.py DB_FILE save|load

`save` writes a conversation through FrontDoorSQLTrackerStore and reports the
SQLite settings of the store's connection; `load` (a new process, as after a
restart of Rasa) reads it back.
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
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from rasa_addons.tracker_store import FrontDoorSQLTrackerStore  # noqa: E402


async def main(db: str, mode: str) -> dict:
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
