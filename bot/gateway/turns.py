"""The pipeline's database steps: each runs in one transaction in a worker thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import language as lang
from bot.conversations import service
from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
)
from bot.db.repositories import conversations as repo
from bot.domain.safety import URGENT_REASON, emergency_text
from bot.gateway.channels.base import ConversationRef, Incoming
from bot.gateway.events import message_view
from bot.gateway.hours import AdviserHours, out_of_hours_notice
from bot.gateway.rasa_client import BotReply
from bot.i18n import text as i18n_text
from bot.reports import facts, ratings

logger = logging.getLogger(__name__)

# English, as tests and callers compare; each conversation gets its language's.
BOT_UNAVAILABLE_TEXT = i18n_text("gateway.bot_unavailable", "en")
EMAIL_THANKS_TEXT = i18n_text("gateway.email_thanks", "en")
WITH_ADVISERS = repo.WITH_ADVISERS
EMERGENCY_SOURCE = "notice:emergency:"  # + the id of the message it answers


class UnknownConversation(LookupError):
    """No conversation with that id."""


@dataclass
class Stored:
    """The person's message as stored.

    ``new`` is False for a repeat delivery of a message stored before; such a
    message is answered again only if its first turn never finished
    (``answered`` False: the gateway failed or stopped in between).
    """

    conversation: ConversationRef
    message: dict[str, Any]
    new: bool = True
    answered: bool = False


@dataclass
class Turn:
    """The outcome of a bot turn, as stored."""

    conversation: ConversationRef
    replies: list[dict[str, Any]]
    handoff_id: int | None = None
    handoff_reason: str | None = None
    urgent: bool = False  # the person's message was urgent
    alert: bool = False  # the conversation became urgent: tell the advisers


@dataclass(frozen=True)
class Notice:
    """What the out-of-hours notice needs: the hours and the time now."""

    hours: AdviserHours
    now: datetime


def ref(conversation: Conversation) -> ConversationRef:
    """Return the delivery reference of a conversation."""
    return ConversationRef(
        id=conversation.id,
        channel=conversation.channel,
        channel_user_id=conversation.channel_user_id,
        status=conversation.status.value,
        bot_paused=bool(conversation.bot_paused),
        language=conversation.language or lang.DEFAULT,
    )


def store_incoming(
    session: Session, incoming: Incoming, *, urgent: bool = False
) -> Stored:
    """Store the person's message once (making a chat's conversation if new)."""
    conversation: Conversation | None
    if incoming.conversation_id is not None:
        conversation = repo.get_conversation(
            session, conversation_id=incoming.conversation_id
        )
        if conversation is None:
            raise UnknownConversation(incoming.conversation_id)
    else:
        if incoming.channel_user_id is None:
            raise ValueError("a message needs a conversation or a channel user")
        conversation = repo.latest_conversation_for(
            session,
            channel=incoming.channel,
            channel_user_id=incoming.channel_user_id,
        ) or repo.create_conversation(
            session,
            channel=incoming.channel,
            channel_user_id=incoming.channel_user_id,
        )
    message = repo.add_message_once(
        session,
        conversation_id=conversation.id,
        channel=incoming.channel,
        message_type=MessageType.INCOMING,
        sender="person",
        text=incoming.text,
        source_id=incoming.source_id,
        urgent=urgent,
    )
    if message is not None:
        follow_language(conversation, incoming.text)
        return Stored(ref(conversation), message_view(message))
    # Stored before (a channel's retry, or a duplicate delivery); a failed
    # insert rolled back, taking a conversation made just now with it.
    first = session.scalars(
        select(Message).where(
            Message.channel == incoming.channel,
            Message.source_id == incoming.source_id,
        )
    ).first()
    if first is None:
        raise UnknownConversation("the stored message vanished")
    found = repo.get_conversation(session, conversation_id=first.conversation_id)
    assert found is not None
    return Stored(
        ref(found),
        message_view(first),
        new=False,
        answered=first.answered_at is not None,
    )


@dataclass(frozen=True)
class Pending:
    """A person's stored message still waiting for its turn."""

    id: int
    text: str
    source_id: str | None


def pending_incoming(session: Session, conversation_id: str) -> list[Pending]:
    """Return the person's messages in a conversation not answered yet, oldest
    first: a burst that one turn answers."""
    rows = session.execute(
        select(Message.id, Message.content, Message.source_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.message_type == MessageType.INCOMING,
            Message.answered_at.is_(None),
        )
        .order_by(Message.id)
        .limit(200)
    ).tuples()
    return [Pending(*row) for row in rows]


def mark_all_answered(session: Session, message_ids: list[int]) -> None:
    """Mark messages answered (those one turn answered together)."""
    for message_id in message_ids:
        service.mark_answered(session, message_id=message_id)


def follow_language(conversation: Conversation, text: str) -> None:
    """Set the conversation's language from a new message (bot.language.follow)."""
    found = lang.follow(
        conversation.language, conversation.language_source, lang.detect(text)
    )
    if found != conversation.language:
        conversation.language = found
        logger.info(
            "conversation language now %s",
            found,
            extra={"conversation_id": conversation.id},
        )


def choose_language(
    session: Session, *, conversation_id: str, language: str
) -> Conversation:
    """The person chose the conversation's language (toggle, /iaith): kept until
    they choose again."""
    conversation = repo.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        raise UnknownConversation(conversation_id)
    if language not in lang.LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    conversation.language = language
    conversation.language_source = lang.CHOSEN
    session.flush()
    return conversation


def is_answered(session: Session, message_id: int) -> bool:
    """Return whether the person's message already had its turn."""
    message = session.get(Message, message_id, populate_existing=True)
    return message is None or message.answered_at is not None


def stored_again(session: Session, message_id: int) -> tuple[Incoming, Stored] | None:
    """Rebuild what a channel delivered from a stored message (for the sweeper)."""
    message = session.get(Message, message_id)
    if message is None or message.answered_at is not None:
        return None
    conversation = repo.get_conversation(
        session, conversation_id=message.conversation_id
    )
    assert conversation is not None
    incoming = Incoming(
        channel=message.channel,
        source_id=message.source_id or f"message:{message.id}",
        text=message.content,
        conversation_id=conversation.id,
        channel_user_id=conversation.channel_user_id,
    )
    return incoming, Stored(ref(conversation), message_view(message), new=False)


def keep_email(
    session: Session, conv: ConversationRef, email: str
) -> list[dict[str, Any]]:
    """Keep the address for the adviser; thank the person once per hand-over."""
    repo.set_contact_email(session, conversation_id=conv.id, email=email)
    session.commit()
    logger.info("contact email stored", extra={"conversation_id": conv.id})
    handoff = repo.latest_handoff(session, conversation_id=conv.id)
    conversation = repo.get_conversation(session, conversation_id=conv.id)
    assert conversation is not None
    thanks = service.send_once(
        session,
        conversation=conversation,
        text=i18n_text("gateway.email_thanks", conversation.language, email=email),
        source_id=f"notice:email:{conv.id}:{handoff.id if handoff else 0}",
    )
    return [message_view(thanks)] if thanks else []


def store_reply(
    session: Session,
    conv: ConversationRef,
    message_id: int,
    reply: BotReply,
    notice: Notice,
) -> Turn:
    """Store the bot's answer and NLU; notice a hand-over made during the turn."""
    # the conversation's facts now, the message's intent with its answered mark
    facts.nlu(
        session,
        message_id=message_id,
        intent=reply.intent,
        confidence=reply.confidence,
    )
    # The action server may have handed over during this turn: read it afresh
    # (a new session per transaction: this loads the row as it is now).
    conversation = repo.get_conversation(session, conversation_id=conv.id)
    assert conversation is not None
    said_before = (
        repo.last_said(session, conversation_id=conv.id)
        if ratings.reads_last_said(reply.intent)
        else None
    )
    replies = [
        service.send(
            session,
            conversation=conversation,
            sender="bot",
            text=m.text,
            buttons=m.buttons or None,
        )
        for m in reply.messages
    ]
    if conversation.status is ConversationStatus.BOT and not reply.paused:
        # the person took the assistant's answer: "Did this help?" (once)
        asked = ratings.accepted(
            session, conversation, intent=reply.intent, last_said=said_before
        )
        replies += [asked] if asked else []
    handoff_id = handoff_reason = None
    if conversation.status is ConversationStatus.BOT and reply.paused:
        # Rasa paused but nothing queued it: queue it rather than lose it.
        handoff = service.hand_over_conversation(
            session, conversation=conversation, reason="asked_for_person"
        ).handoff
        handoff_id, handoff_reason = handoff.id, handoff.reason
    elif conversation.status in WITH_ADVISERS:
        latest = repo.latest_handoff(session, conversation_id=conv.id)
        if latest is not None:
            handoff_id, handoff_reason = latest.id, latest.reason
    # The message is answered in the same transaction that stores what was
    # said: both or neither (a crash before this commit leaves the message for
    # the sweeper, and never a stored answer that the sweeper would repeat).
    service.mark_answered(
        session, message_id=message_id, nlu=(reply.intent, reply.confidence)
    )
    session.commit()
    views = [message_view(m) for m in replies]
    if handoff_id is not None:
        views += hours_notice(session, conversation, handoff_id, notice)
    return Turn(ref(conversation), views, handoff_id, handoff_reason)


def store_unavailable(
    session: Session,
    conv: ConversationRef,
    notice: Notice,
    message_id: int,
    *,
    nlu: tuple[str | None, float | None] | None = None,
) -> Turn:
    """Queue the conversation (bot_unavailable) and tell the person."""
    if nlu is not None:
        record_nlu(session, message_id, *nlu)
    conversation = repo.get_conversation(session, conversation_id=conv.id)
    assert conversation is not None
    session.refresh(conversation)
    handoff_id = handoff_reason = None
    if conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
        handoff = service.hand_over_conversation(
            session, conversation=conversation, reason="bot_unavailable"
        ).handoff
        handoff_id, handoff_reason = handoff.id, handoff.reason
    apology = service.send(
        session,
        conversation=conversation,
        sender="bot",
        text=i18n_text("gateway.bot_unavailable", conversation.language),
    )
    session.commit()
    views = [message_view(apology)]
    if handoff_id is not None:
        views += hours_notice(session, conversation, handoff_id, notice)
    service.mark_answered(session, message_id=message_id)
    return Turn(ref(conversation), views, handoff_id, handoff_reason)


def rated(
    session: Session, conv: ConversationRef, message_id: int, answer: ratings.Answer
) -> list[dict[str, Any]]:
    """Answer a rating button or comment (never a turn of the bot's dialogue)."""
    said = ratings.handle(
        session, conversation_id=conv.id, message_id=message_id, answer=answer
    )
    session.commit()
    service.mark_answered(session, message_id=message_id)
    return ratings.views(said)


def record_nlu(
    session: Session, message_id: int, intent: str | None, confidence: float | None
) -> None:
    """Store the intent NLU gave a message the bot did not answer."""
    repo.record_nlu(
        session, message_id=message_id, intent=intent, confidence=confidence
    )


def passed_to_advisers(
    session: Session,
    conv: ConversationRef,
    message_id: int,
    nlu: tuple[str | None, float | None],
    *,
    email: str | None = None,
) -> list[dict[str, Any]]:
    """Finish the turn of a message the advisers answer: NLU kept, an email
    address kept (and thanked for), the message marked answered last."""
    record_nlu(session, message_id, *nlu)
    replies = keep_email(session, conv, email) if email else []
    service.mark_answered(session, message_id=message_id)
    return replies


def store_urgent(
    session: Session,
    conv: ConversationRef,
    message_id: int,
    notice: Notice,
    *,
    nlu: tuple[str | None, float | None] | None = None,
    flag: bool = True,
) -> Turn:
    """Store an urgent message's outcome: the message flagged, the emergency text,
    and the conversation handed over as urgent (or raised to urgent).

    ``flag`` False: the risk was in an earlier message of a burst this message's
    turn answers (flagged when stored), not in this one.

    ``conv`` is the conversation as it was when the message arrived. The bot's own
    answer is never stored: no guidance in reply to a disclosure. The emergency
    text is left out when it was the last thing said to the person, and a
    conversation already with the advisers gets no second hand-over.
    """
    if nlu is not None:
        record_nlu(session, message_id, *nlu)
    if flag:
        repo.mark_message_urgent(session, message_id=message_id)
    conversation = repo.get_conversation(session, conversation_id=conv.id)
    assert conversation is not None
    session.refresh(conversation)
    replies = []
    last = repo.last_said(session, conversation_id=conv.id)
    if last is None or not (last.source_id or "").startswith(EMERGENCY_SOURCE):
        replies.append(
            service.send(
                session,
                conversation=conversation,
                sender="bot",
                text=emergency_text(
                    _nation(session, conversation), conversation.language
                ),
                source_id=f"{EMERGENCY_SOURCE}{message_id}",
                urgent=True,
            )
        )
    handoff, raised = _escalate(session, conversation)
    session.commit()
    logger.warning(
        "urgent message: %s",
        "conversation raised to urgent" if raised else "already urgent",
        extra={"conversation_id": conv.id},
    )
    views = [message_view(m) for m in replies]
    if handoff is not None:
        views += hours_notice(session, conversation, handoff.id, notice)
    service.mark_answered(session, message_id=message_id)
    # A conversation the bot held is new to the advisers, however it got to them.
    alert = raised or ConversationStatus(conv.status) not in WITH_ADVISERS
    return Turn(
        ref(conversation),
        views,
        handoff.id if handoff else None,
        handoff.reason if handoff else None,
        urgent=True,
        alert=alert,
    )


def _escalate(
    session: Session, conversation: Conversation
) -> tuple[Handoff | None, bool]:
    """Hand the conversation over as urgent, or raise its hand-over to urgent.

    Returns the hand-over and whether this call made the conversation urgent.
    The conditional update in ``mark_urgent`` loses to an adviser who resolved
    or handed back meanwhile; then the conversation is handed over afresh.
    """
    for _ in range(3):
        if conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
            handoff = service.hand_over_conversation(
                session, conversation=conversation, reason=URGENT_REASON
            ).handoff
            return handoff, True
        if service.mark_urgent(session, conversation_id=conversation.id):
            return repo.latest_handoff(session, conversation_id=conversation.id), True
        if conversation.urgent:
            return repo.latest_handoff(session, conversation_id=conversation.id), False
    logger.error(
        "could not mark the conversation urgent",
        extra={"conversation_id": conversation.id},
    )
    return repo.latest_handoff(session, conversation_id=conversation.id), False


def _nation(session: Session, conversation: Conversation) -> str | None:
    """Return the nation of the conversation's district, if the bot found one."""
    if not conversation.lad_code:
        return None
    lad = session.get(LocalAuthority, conversation.lad_code)
    return lad.nation.value if lad is not None else None


def hours_notice(
    session: Session, conversation: Conversation, handoff_id: int, notice: Notice
) -> list[dict[str, Any]]:
    """Tell the person when to expect an answer, once per hand-over."""
    if notice.hours.is_open(notice.now):
        return []
    told = service.send_once(
        session,
        conversation=conversation,
        text=out_of_hours_notice(notice.hours, notice.now, conversation.language),
        source_id=f"notice:hours:{conversation.id}:{handoff_id}",
    )
    return [message_view(told)] if told else []
