"""Suggesting official guidance for the topic, subtopic and nation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import conversation_id, in_session, language_of, logger, say
from bot.directory.service import guidance_for
from bot.i18n import text

Item = tuple[str, str, str, list[str]]


def _guidance(
    session: Session, *, topic: str, subtopic: str | None, nation: str | None
) -> tuple[list[Item], bool]:
    """Return the pages to show and whether they answer the subtopic itself."""
    found = guidance_for(
        session, topic=topic, subtopic=subtopic, nation=nation, limit=3
    )
    items = [(r.title, r.publisher, r.url, list(r.nations)) for r in found.pages]
    return items, bool(found.specific)


def guidance_reply(
    items: list[Item],
    *,
    nation: str | None,
    topic: str = "",
    subtopic: str | None = None,
    specific: bool = True,
    lang: str | None = None,
) -> str:
    """Return the guidance message; name the nations when the place is unknown.

    When no page is filed under the question's subtopic, it says so before the
    topic's general pages rather than passing them off as the answer. The
    directory holds each page's English address only, so in another language
    each page is said plainly to be in English (never a made-up address).
    """
    if not items:
        return text("directory.guidance_none", lang)
    if subtopic and subtopic != "general" and not specific:
        topic_name = text(f"directory.topics.{topic}", lang) if topic else ""
        head = text("directory.guidance_no_specific", lang, topic=topic_name)
    elif subtopic and subtopic != "general":
        head = text("directory.guidance_specific", lang)
    else:
        head = text("directory.guidance_general", lang)
    lines = [head]
    for title, publisher, url, nations in items:
        applies = ""
        if nation is None and len(nations) < 4:
            names = ", ".join(text(f"actions.nations.{n}", lang) for n in nations)
            applies = text("actions.guidance_applies", lang, nations=names)
        english_only = text("actions.guidance_english_only", lang)
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
        subtopic = tracker.get_slot("subtopic")
        try:
            items, specific = await in_session(
                _guidance,
                topic=topic,
                subtopic=subtopic,
                nation=nation,
            )
        except Exception:
            logger.exception(
                "guidance look-up failed conversation_id=%s", conversation_id(tracker)
            )
            dispatcher.utter_message(text=say(tracker, "actions.sorry"))
            return []
        reply = guidance_reply(
            items,
            nation=nation,
            topic=topic,
            subtopic=subtopic,
            specific=specific,
            lang=language_of(tracker),
        )
        dispatcher.utter_message(text=reply)
        return []
