"""Did every custom action of a Rasa turn run? Read from the turn's tracker events.

When the action server fails (down, or an action raises), Rasa logs the error,
records the action as executed with none of its events, and carries on: the
person would get a half-answer (no organisations, no guidance, a place not
recognised). Every one of our actions returns events or says something when it
succeeds, so a custom action followed by no event at all is one that failed.
This is known per turn, from the turn itself, never from a cached health check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Rasa's own actions (rasa.shared.core.constants.DEFAULT_ACTION_NAMES): they run
# inside Rasa and may well produce nothing.
RASA_ACTIONS = frozenset(
    {
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_unlikely_intent",
        "action_back",
        "action_send_text",
        "action_extract_slots",
        "action_validate_slot_mappings",
    }
)
# The one success of ours that says and sets nothing: guidance with no topic.
SILENT_WITHOUT_TOPIC = frozenset({"action_suggest_resources"})


def is_custom(name: str) -> bool:
    """Return whether ``name`` runs on the action server (actions and forms)."""
    return not name.startswith("utter_") and name not in RASA_ACTIONS


def this_turn(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the events since the turn's user message (the last one)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return list(events[index + 1 :])
    return []


def failed_actions(
    events: Sequence[dict[str, Any]], *, topic: object = None
) -> list[str]:
    """Return the custom actions of the last turn that left no event behind.

    ``events`` is the tracker's event list; ``topic`` the topic slot's value.
    """
    turn = this_turn(events)
    failed = []
    for index, event in enumerate(turn):
        if event.get("event") != "action":
            continue
        name = str(event.get("name") or "")
        if not is_custom(name):
            continue
        following = turn[index + 1] if index + 1 < len(turn) else None
        if following is not None and following.get("event") != "action":
            continue  # it said or set something: it ran
        if name in SILENT_WITHOUT_TOPIC and not topic:
            continue
        failed.append(name)
    return failed
