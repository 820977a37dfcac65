"""Asking where the person's group is, and checking the answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    candidate_dict,
    conversation_id,
    logger,
    place_choices,
    place_slots,
    resolve_place,
    say,
)
from bot.i18n import text

MAX_ATTEMPTS = 2
SKIP = "skip"
ASK = text("actions.ask_location", "en")
SKIP_BUTTON = {"title": text("actions.skip_button", "en"), "payload": "/skip_location"}


def skip_button(tracker: Tracker) -> dict[str, str]:
    """The Skip button in the conversation's language."""
    return {**SKIP_BUTTON, "title": say(tracker, "actions.skip_button")}


class ActionAskLocation(Action):
    """Ask where the group is, or which of several places of one name."""

    def name(self) -> str:
        return "action_ask_location"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        candidates = tracker.get_slot("place_candidates") or []
        if candidates:
            # Every candidate (Kent has 13 council areas): the widget folds a
            # long list into a searchable one, Telegram shows a keyboard.
            buttons = [{"title": c["name"], "payload": c["name"]} for c in candidates]
            dispatcher.utter_message(
                text=say(tracker, "actions.which_place"),
                buttons=[*buttons, skip_button(tracker)],
            )
        else:
            dispatcher.utter_message(
                text=say(tracker, "actions.ask_location"),
                buttons=[skip_button(tracker)],
            )
        return []


class ValidateLocationForm(FormValidationAction):
    """Resolve the answer to a place: one, several (ask again), or none."""

    def name(self) -> str:
        return "validate_location_form"

    async def validate_location(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        if text == SKIP:
            return {
                "location": SKIP,
                "location_status": "skipped",
                "place_candidates": None,
            }
        # a button from the "which one?" question names a candidate exactly
        for c in tracker.get_slot("place_candidates") or []:
            if text.casefold() == str(c.get("name", "")).casefold():
                return self._resolved(c)
        try:
            result = await resolve_place(text, expecting_place=True)
        except Exception:
            logger.exception(
                "place lookup failed conversation_id=%s", conversation_id(tracker)
            )
            dispatcher.utter_message(text=say(tracker, "actions.place_lookup_failed"))
            return {"location": text, "location_status": "not_found"}
        if result.best is not None and result.best.lad_code:
            return self._resolved(candidate_dict(result.best))
        choices = await place_choices(result)
        if choices:
            return {"location": None, "place_candidates": choices}
        attempts = int(tracker.get_slot("location_attempts") or 0) + 1
        if attempts >= MAX_ATTEMPTS:
            return {
                "location": text,
                "location_status": "not_found",
                "location_attempts": float(attempts),
                "place_candidates": None,
            }
        dispatcher.utter_message(
            text=say(tracker, "actions.place_not_found", place=text[:80])
        )
        return {"location": None, "location_attempts": float(attempts)}

    @staticmethod
    def _resolved(c: dict[str, Any]) -> dict[str, Any]:
        return {"location": c["name"], **place_slots(c)}
