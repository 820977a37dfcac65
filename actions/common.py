"""Plumbing shared by the actions: database work off the event loop, the resolver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import LocalAuthority
from bot.db.session import session_scope
from bot.directory.resolver import Candidate, Resolution
from bot.directory.resolver import get_resolver as shared_resolver
from bot.i18n import LANGUAGES, text

logger = logging.getLogger("actions")
T = TypeVar("T")

TOPICS = ("funding", "governance", "volunteering")
SORRY = text("actions.sorry", "en")  # English; say(tracker, "actions.sorry")


async def in_session(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(session, **kwargs)`` in a worker thread inside one transaction."""

    def run() -> T:
        with session_scope() as session:
            return fn(session, **kwargs)

    return await asyncio.to_thread(run)


async def resolve_place(text: str, *, expecting_place: bool) -> Resolution:
    """Find the place in ``text`` off the event loop (it may query postcodes)."""

    def run() -> Resolution:
        return shared_resolver().resolve(text, expecting_place=expecting_place)

    return await asyncio.to_thread(run)


def _council_choices(session: Session, *, lad_codes: list[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(LocalAuthority)
        .where(LocalAuthority.code.in_(lad_codes))
        .order_by(LocalAuthority.name)
    )
    return [
        {
            "name": a.name,
            "lad_code": a.code,
            "lad_name": a.name,
            "nation": a.nation.value,
        }
        for a in rows
    ]


async def place_choices(resolution: Resolution) -> list[dict[str, Any]]:
    """Return the places to ask about: the candidates, or a county's councils."""
    best = resolution.best
    if best is not None and not best.lad_code and best.lad_codes:
        return await in_session(_council_choices, lad_codes=list(best.lad_codes))
    if resolution.ambiguous:
        return [candidate_dict(c) for c in resolution.candidates]
    return []


def conversation_id(tracker: Tracker) -> str:
    """Return the conversation id (Rasa's sender id)."""
    return str(tracker.sender_id)


def language_of(tracker: Tracker) -> str:
    """Return the conversation's language, as the gateway sent it ("en" if none)."""
    metadata = tracker.latest_message.get("metadata") or {}
    language = metadata.get("language")
    return language if language in LANGUAGES else "en"


def say(tracker: Tracker, key: str, **values: object) -> str:
    """The text for ``key`` (bot/i18n) in the conversation's language."""
    return text(key, language_of(tracker), **values)


def channel_of(tracker: Tracker) -> str:
    """Return the channel the gateway told Rasa about ("rasa" when run directly)."""
    metadata = tracker.latest_message.get("metadata") or {}
    return str(metadata.get("channel") or tracker.get_latest_input_channel() or "rasa")


def candidate_dict(candidate: Candidate) -> dict[str, Any]:
    """Return what the dialogue keeps about a candidate place (a slot value)."""
    return {
        "name": candidate.name,
        "lad_code": candidate.lad_code,
        "lad_name": candidate.lad_name,
        "nation": candidate.nation,
    }


def place_slots(candidate: Candidate | dict[str, Any]) -> dict[str, Any]:
    """Return the slot values that record a resolved place."""
    c = candidate if isinstance(candidate, dict) else candidate_dict(candidate)
    return {
        "location_status": "resolved",
        "place_name": c["name"],
        "lad_code": c["lad_code"],
        "nation": c["nation"],
        "place_candidates": None,
        "location_attempts": 0.0,
    }


def place_events(candidate: Candidate | dict[str, Any]) -> list[SlotSet]:
    """Return the slot events that record a resolved place."""
    return [SlotSet(name, value) for name, value in place_slots(candidate).items()]


def topic_of(tracker: Tracker) -> tuple[str | None, str | None]:
    """Return (topic, subtopic) of the latest message, from intent and selector."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    if intent not in TOPICS:
        return None, None
    return intent, subtopic_of(message, intent)


def subtopic_of(parse: dict[str, Any], topic: str) -> str | None:
    """Return the subtopic the ResponseSelector chose for ``topic``, if any.

    One selector serves every retrieval intent (its key is "default"); its answer
    only counts when it belongs to the topic the classifier chose.
    """
    selectors = parse.get("response_selector") or {}
    selector = selectors.get(topic) or selectors.get("default") or {}
    key = (selector.get("response") or {}).get("intent_response_key") or ""
    prefix = f"{topic}/"
    return key[len(prefix) :] if key.startswith(prefix) else None


def recent_messages(tracker: Tracker, limit: int = 8) -> list[dict[str, str]]:
    """Return the last person and bot messages, oldest first, for a summary."""
    out: list[dict[str, str]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("text"):
            out.append({"sender": "person", "text": str(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            out.append({"sender": "bot", "text": str(event["text"])})
        if len(out) >= limit:
            break
    return list(reversed(out))
