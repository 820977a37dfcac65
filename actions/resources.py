"""Suggesting official guidance for the topic, subtopic and nation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import SORRY, conversation_id, in_session, logger
from bot.directory.service import resources_for


def _guidance(
    session: Session, *, topic: str, subtopic: str | None, nation: str | None
) -> list[tuple[str, str, str, list[str]]]:
    rows = resources_for(
        session, topic=topic, subtopic=subtopic, nation=nation, limit=3
    )
    return [(r.title, r.publisher, r.url, list(r.nations)) for r in rows]


def guidance_reply(
    items: list[tuple[str, str, str, list[str]]], *, nation: str | None
) -> str:
    """Return the guidance message; name the nations when the place is unknown."""
    lines = ["Official guidance that may help:"]
    for title, publisher, url, nations in items:
        applies = ""
        if nation is None and len(nations) < 4:
            applies = f" (applies in {', '.join(nations)})"
        lines.append(f"• {title}, {publisher}{applies}: {url}")
    return "\n".join(lines)


class ActionSuggestResources(Action):
    """Give 1-3 guidance pages for the topic, subtopic and nation."""

    def name(self) -> str:
        return "action_suggest_resources"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        topic = tracker.get_slot("topic")
        if not topic:
            return []
        nation = (
            tracker.get_slot("nation")
            if tracker.get_slot("location_status") == "resolved"
            else None
        )
        try:
            items = await in_session(
                _guidance,
                topic=topic,
                subtopic=tracker.get_slot("subtopic"),
                nation=nation,
            )
        except Exception:
            logger.exception(
                "guidance look-up failed conversation_id=%s", conversation_id(tracker)
            )
            dispatcher.utter_message(text=SORRY)
            return []
        if not items:
            dispatcher.utter_message(
                text="I don't have an official guidance page on record for that yet; "
                "the organisation above or an adviser can help."
            )
            return []
        dispatcher.utter_message(text=guidance_reply(items, nation=nation))
        return []
