"""The one "Did this help?" question (CSAT, 1-5) and the answers to it.

Asked once per conversation, as an ordinary bot message with buttons (quick
replies in the widget, an inline keyboard on Telegram), when an adviser resolves
the conversation or the person takes the assistant's answer; never when someone
may have been at risk. The buttons' payloads (``/rate{"score":4}``) are read by
the gateway before Rasa (``handle``); the score goes into the conversation's
anonymous facts. An optional comment is the person's next message after they
chose "Add a comment": it stays an ordinary message (so retention and erasure
treat it like any other), marked with the intent ``rating_comment``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Conversation, Message, MessageType
from bot.db.repositories import conversations as repo
from bot.i18n import LANGUAGES, text
from bot.reports import facts

logger = logging.getLogger(__name__)

SCORES = (1, 2, 3, 4, 5)
RATE_PAYLOAD = re.compile(r'^/rate\{"score":\s*([1-5])\}$')
COMMENT_PAYLOAD = "/rate_comment"
COMMENT_INTENT = "rating_comment"
ASK_SOURCE = "rating:ask:"  # + conversation id: the question is stored once
COMMENT_SOURCE = "rating:comment:"  # + conversation id: "write your comment"
# Resolutions a rating makes sense for (not a duplicate, not a person who left).
RATED_OUTCOMES = ("answered", "referred_to_lio", "other")


def rate_payload(score: int) -> str:
    """Return the payload of the button for ``score``."""
    return "/rate" + json.dumps({"score": score}, separators=(",", ":"))


def _lang(conversation: Conversation) -> str | None:
    return getattr(conversation, "language", None)


def question(lang: str | None = None) -> tuple[str, list[dict[str, str]]]:
    """Return the question and its five buttons."""
    buttons = [
        {"title": text(f"ratings.score_{s}", lang), "payload": rate_payload(s)}
        for s in SCORES
    ]
    return text("ratings.question", lang), buttons


def ask(session: Session, conversation: Conversation) -> Message | None:
    """Ask "Did this help?" once, unless the conversation was urgent; the message
    goes out with the caller's transaction. None when it is not asked."""
    from bot.conversations import service  # the one writer of outgoing messages

    if conversation.urgent or getattr(conversation, "anonymised_at", None):
        return None  # someone at risk, or the content already swept away
    if not facts.rating_asked(session, conversation.id):
        return None
    body, buttons = question(_lang(conversation))
    logger.info("rating asked", extra={"conversation_id": conversation.id})
    return service.send(
        session,
        conversation=conversation,
        sender="bot",
        text=body,
        buttons=buttons,
        source_id=f"{ASK_SOURCE}{conversation.id}",
    )


def after_resolve(session: Session, conversation: Conversation, outcome: str) -> None:
    """Ask for a rating when an adviser resolved the conversation."""
    if outcome in RATED_OUTCOMES:
        ask(session, conversation)


# Intents that mean the person took the assistant's answer, and what the bot
# must have just said for "no" to mean that ("no, I don't need a person").
THANKS_INTENTS = ("thanks", "goodbye")
OFFER_KEY = "responses.utter_offer_human.text"
OFFER_TEXT = text(OFFER_KEY, "en")


def _offers() -> tuple[str, ...]:
    return tuple(text(OFFER_KEY, lang) for lang in LANGUAGES)


def reads_last_said(intent: str | None) -> bool:
    """Whether ``accepted`` needs the message said before this turn for ``intent``
    (only a "no" can decline the offer of a person), so the caller reads it only
    then: one query less on every other turn."""
    return intent == "deny"


def accepted(
    session: Session,
    conversation: Conversation,
    *,
    intent: str | None,
    last_said: Message | None,
) -> Message | None:
    """After a bot turn: if the person took the assistant's answer to a topic
    question, record it and ask for a rating (once)."""
    if not conversation.topic or conversation.urgent:
        return None
    declined_person = reads_last_said(intent) and (
        last_said is not None and last_said.content.startswith(_offers())
    )
    if not (declined_person or intent in THANKS_INTENTS):
        return None
    facts.assistant_accepted(session, conversation.id)
    return ask(session, conversation)


# ------------------------------------------------------------ answers to it


@dataclass(frozen=True)
class Answer:
    """What the gateway does with a message: a score, a comment, or nothing."""

    kind: str  # "score", "comment_request", "comment", "ignored", ""
    score: int | None = None


def read(payload: str | None) -> Answer:
    """Return what a button payload means for the ratings (kind "" if nothing)."""
    if payload is None:
        return Answer("")
    found = RATE_PAYLOAD.match(payload.strip())
    if found:
        return Answer("score", int(found.group(1)))
    if payload.strip() == COMMENT_PAYLOAD:
        return Answer("comment_request")
    if payload.strip().startswith("/rate"):
        return Answer("ignored")  # ours, but not a score we offered: dropped
    return Answer("")


def waiting_for_comment(session: Session, conversation_id: str) -> bool:
    """Return whether the last thing said was "write your comment"."""
    # the source id alone: read on every message, no row to build
    last = session.execute(
        select(Message.source_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.message_type == MessageType.OUTGOING,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    return last is not None and (last[0] or "").startswith(COMMENT_SOURCE)


def handle(
    session: Session, *, conversation_id: str, message_id: int, answer: Answer
) -> list[Message]:
    """Answer a rating button or a comment; returns what was said (committed by
    the caller). A score outside a question asked, or a second one, is kept out."""
    conversation = repo.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        return []
    from bot.conversations import service

    lang = _lang(conversation)
    said: list[Message] = []
    if answer.kind == "score" and answer.score is not None:
        if facts.rated(session, conversation_id, score=answer.score):
            logger.info("rating stored", extra={"conversation_id": conversation_id})
            said.append(
                service.send(
                    session,
                    conversation=conversation,
                    sender="bot",
                    text=text("ratings.thanks", lang),
                    buttons=[
                        {
                            "title": text("ratings.add_comment", lang),
                            "payload": COMMENT_PAYLOAD,
                        }
                    ],
                )
            )
    elif answer.kind == "comment_request":
        if not repo.source_id_taken(
            session,
            channel=conversation.channel,
            source_id=f"{COMMENT_SOURCE}{conversation_id}",
        ):
            said.append(
                service.send(
                    session,
                    conversation=conversation,
                    sender="bot",
                    text=text("ratings.comment_prompt", lang),
                    source_id=f"{COMMENT_SOURCE}{conversation_id}",
                )
            )
    elif answer.kind == "comment":
        repo.record_nlu(
            session, message_id=message_id, intent=COMMENT_INTENT, confidence=None
        )
        said.append(
            service.send(
                session,
                conversation=conversation,
                sender="bot",
                text=text("ratings.comment_thanks", lang),
            )
        )
    return said


def views(messages: list[Message]) -> list[dict[str, Any]]:
    """Return the message views of what was said."""
    from bot.gateway.events import message_view

    return [message_view(m) for m in messages]
