"""Suggesting official guidance for the topic, subtopic and nation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import conversation_id, in_session, language_of, logger, say
from bot.directory.service import resources_for
from bot.i18n import text


def _guidance(
    session: Session, *, topic: str, subtopic: str | None, nation: str | None
) -> list[tuple[str, str, str, list[str]]]:
    rows = resources_for(
        session, topic=topic, subtopic=subtopic, nation=nation, limit=3
    )
    return [(r.title, r.publisher, r.url, list(r.nations)) for r in rows]


def guidance_reply(
    items: list[tuple[str, str, str, list[str]]],
    *,
    nation: str | None,
    language: str = "en",
) -> str:
    """Return the guidance message; name the nations when the place is unknown.

    The directory holds each page's English address only, so in any other
    language each page is said plainly to be in English (never a made-up
    translated address)."""
    lines = [text("actions.guidance_intro", language)]
    for title, publisher, url, nations in items:
        applies = ""
        if nation is None and len(nations) < 4:
            names = ", ".join(
                text(f"actions.nations.{n}", language) for n in nations
            )
            applies = text("actions.guidance_applies", language, nations=names)
        english_only = text("actions.guidance_english_only", language)
        lines.append(f"• {title}, {publisher}{applies}: {url}{english_only}")
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
            dispatcher.utter_message(text=say(tracker, "actions.sorry"))
            return []
        if not items:
            dispatcher.utter_message(text=say(tracker, "actions.guidance_none"))
            return []
        dispatcher.utter_message(
            text=guidance_reply(items, nation=nation, language=language_of(tracker))
        )
        return []
