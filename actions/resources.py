"""Suggesting official guidance for the topic, subtopic and nation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import conversation_id, in_session, language_of, logger, say
from bot import language
from bot.db.models import Resource
from bot.directory.service import guidance_for
from bot.i18n import text

# title, publisher, url, the page is in Welsh, nations
Item = tuple[str, str, str, bool, list[str]]
SHOWN = 3


def in_welsh(page: Resource) -> bool:
    """Whether the directory's page is in Welsh: its record says so (a Welsh-
    language summary, a ".cy" or "/cy/" address, a title marked ", Welsh)") or
    its title is clearly Welsh."""
    url, summary = page.url.lower(), (page.summary or "").lower()
    if "/cy/" in url or url.endswith(".cy") or "welsh-language" in summary:
        return True
    if page.title.rstrip().endswith(", Welsh)"):
        return True
    found = language.detect(page.title)
    return found.sure and found.language == "cy"


def _guidance(
    session: Session,
    *,
    topic: str,
    subtopic: str | None,
    nation: str | None,
    lang: str | None = None,
) -> tuple[list[Item], bool]:
    """Return the pages to show and whether they answer the subtopic itself.

    In a Welsh conversation a Welsh page the directory holds comes first."""
    found = guidance_for(
        session,
        topic=topic,
        subtopic=subtopic,
        nation=nation,
        limit=SHOWN * 2 if lang == "cy" else SHOWN,
    )
    pages = [(r, in_welsh(r)) for r in found.pages]
    if lang == "cy":
        pages.sort(key=lambda p: not p[1])  # stable: the best Welsh page first
    items = [
        (r.title, r.publisher, r.url, welsh, list(r.nations))
        for r, welsh in pages[:SHOWN]
    ]
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
    for title, publisher, url, welsh, nations in items:
        applies = ""
        if nation is None and len(nations) < 4:
            names = ", ".join(text(f"actions.nations.{n}", lang) for n in nations)
            applies = text("actions.guidance_applies", lang, nations=names)
        # the page's language said plainly when it is not the conversation's
        if welsh and lang != "cy":
            marker = text("actions.guidance_in_welsh", lang)
        elif not welsh and lang == "cy":
            marker = text("actions.guidance_english_only", lang)
        else:
            marker = ""
        lines.append(f"• {title}, {publisher}{applies}: {url}{marker}")
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
                lang=language_of(tracker),
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
