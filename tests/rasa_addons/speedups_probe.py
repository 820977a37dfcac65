"""Run in the Rasa environment by test_speedups.py: prints one JSON report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rasa.shared.utils.common  # noqa: E402
from rasa.shared.core.events import Event  # noqa: E402

from rasa_addons import speedups  # noqa: E402

names = sorted({c.type_name for c in rasa.shared.utils.common.all_subclasses(Event)})
original = speedups._rasa_resolve_by_type
same = {n: Event.resolve_by_type(n) is original(n) for n in names}


class LateEvent(Event):  # imported after the table was built
    type_name = "frontdoor_late_event"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LateEvent)

    def __hash__(self) -> int:
        return 0

    def as_story_string(self) -> str:
        return ""


errors = []
try:
    Event.resolve_by_type("no_such_event")
except ValueError as e:
    errors.append(str(e))
report = {
    "names": len(names),
    "all_same": all(same.values()),
    "late_found": Event.resolve_by_type("frontdoor_late_event") is LateEvent,
    "topic": Event.resolve_by_type("topic"),
    "default": Event.resolve_by_type("no_such_event", LateEvent) is LateEvent,
    "errors": errors,
    "round_trip": type(Event.from_parameters({"event": "slot", "name": "x",
                                              "value": 1})).__name__,
}
print("PROBE-JSON " + json.dumps(report))
