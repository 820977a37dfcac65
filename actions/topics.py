"""Noting what a question is about, and any place it names."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    conversation_id,
    logger,
    place_choices,
    place_events,
    resolve_place,
    say,
    topic_of,
)


async def _resolve_events(text: str, *, expecting_place: bool) -> list[EventType]:
    """Return slot events for the place in ``text`` (nothing if none is found)."""
    result = await resolve_place(text, expecting_place=expecting_place)
    if result.best is not None and result.best.lad_code:
        return list(place_events(result.best))
    choices = await place_choices(result)
    return [SlotSet("place_candidates", choices)] if choices else []


class ActionSetTopic(Action):
    """Record the topic and subtopic; pick up a place named in the same message."""

    def name(self) -> str:
        return "action_set_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        topic, subtopic = topic_of(tracker)
        events: list[EventType] = [
            SlotSet("topic", topic),
            SlotSet("subtopic", subtopic),
        ]
        try:
            found = await _resolve_events(
                tracker.latest_message.get("text") or "", expecting_place=False
            )
        except Exception:
            logger.exception(
                "place lookup failed conversation_id=%s", conversation_id(tracker)
            )
            found = []
        if any(isinstance(e, dict) and e.get("name") == "lad_code" for e in found):
            return events + found
        if tracker.get_slot("location_status") == "resolved" and tracker.get_slot(
            "lad_code"
        ):
            # the place is already known from earlier in the conversation
            return events + [SlotSet("location_status", "resolved")]
        return (
            events
            + found
            + [
                SlotSet("location_status", "needs_place"),
                SlotSet("location_attempts", 0.0),
            ]
        )


class ActionSetLocation(Action):
    """Record a place the person gave before saying what they need."""

    def name(self) -> str:
        return "action_set_location"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        try:
            events = await _resolve_events(text, expecting_place=True)
        except Exception:
            logger.exception(
                "place lookup failed conversation_id=%s", conversation_id(tracker)
            )
            dispatcher.utter_message(text=say(tracker, "actions.sorry"))
            return []
        if not events:
            dispatcher.utter_message(text=say(tracker, "actions.place_not_known_yet"))
        elif not any(e.get("name") == "lad_code" for e in events):
            dispatcher.utter_message(
                text=say(tracker, "actions.place_ambiguous_later")
            )
        else:
            place = next(e["value"] for e in events if e.get("name") == "place_name")
            got = say(tracker, "actions.place_got", place=place)
            dispatcher.utter_message(text=got)
        return events
