"""Conversations and their messages: create, store once, read.

Status changes, hand-overs and outgoing messages are written by
``bot.conversations.service`` (the one writer), which builds on these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    Message,
    MessageType,
)
from bot.domain.handoff import WITH_ADVISERS as WITH_ADVISERS
from bot.reports import facts

# What the person may see of their own conversation (never notes or activity).
PERSON_VISIBLE = (MessageType.INCOMING, MessageType.OUTGOING)
# Automatic notices (adviser hours, an email kept) are not what the bot "said".
NOTICE_PREFIXES = ("notice:hours:", "notice:email:")

# 24 bytes = 192 random bits, comfortably past the 128 the ids must carry.
CONVERSATION_ID_BYTES = 24


def new_conversation_id() -> str:
    """Return a fresh, unguessable conversation id."""
    return secrets.token_urlsafe(CONVERSATION_ID_BYTES)


def create_conversation(
    session: Session, *, channel: str, channel_user_id: str | None = None
) -> Conversation:
    """Create a conversation held by the bot."""
    conversation = Conversation(
        id=new_conversation_id(),
        channel=channel,
        channel_user_id=channel_user_id,
        status=ConversationStatus.BOT,
        created_at=utcnow(),
    )
    session.add(conversation)
    session.flush()
    facts.started(session, conversation)
    return conversation


def get_conversation(session: Session, *, conversation_id: str) -> Conversation | None:
    """Return the conversation with ``conversation_id``, if any."""
    return session.get(Conversation, conversation_id)


def latest_conversation_for(
    session: Session, *, channel: str, channel_user_id: str
) -> Conversation | None:
    """Return the newest conversation of one channel user (a Telegram chat)."""
    return session.scalars(
        select(Conversation)
        .where(
            Conversation.channel == channel,
            Conversation.channel_user_id == channel_user_id,
        )
        .order_by(Conversation.created_at.desc(), Conversation.id)
        .limit(1)
    ).first()


def source_id_taken(session: Session, *, channel: str, source_id: str) -> bool:
    """Return whether a message with this channel ``source_id`` is already stored."""
    found = session.scalar(
        select(Message.id).where(
            Message.channel == channel, Message.source_id == source_id
        )
    )
    return found is not None


def add_message(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    message_type: MessageType,
    sender: str,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    source_id: str | None = None,
    adviser_id: int | None = None,
    urgent: bool = False,
    delivered_at: datetime | None = None,
) -> Message:
    """Add one message to a conversation (flushed, not committed).

    ``delivered_at``: a message whose channel has it once stored (the widget
    reads what is stored) is delivered in the same insert.
    """
    message = Message(
        conversation_id=conversation_id,
        channel=channel,
        message_type=message_type,
        sender=sender,
        content=text,
        buttons=buttons or None,
        source_id=source_id,
        adviser_id=adviser_id,
        urgent=urgent,
        delivered_at=delivered_at,
    )
    session.add(message)
    session.flush()
    return message


def add_message_once(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    message_type: MessageType,
    sender: str,
    text: str,
    source_id: str,
    buttons: list[dict[str, str]] | None = None,
    urgent: bool = False,
) -> Message | None:
    """Add a message keyed by ``source_id`` and commit; None if it was stored before.

    Commits on its own because the unique constraint on (channel, source_id) is the
    real guard against a concurrent duplicate, and a failed insert must not undo
    other work.
    """
    if source_id_taken(session, channel=channel, source_id=source_id):
        return None
    try:
        # the insert (at its flush) or the commit meets a concurrent duplicate
        message = add_message(
            session,
            conversation_id=conversation_id,
            channel=channel,
            message_type=message_type,
            sender=sender,
            text=text,
            buttons=buttons,
            source_id=source_id,
            urgent=urgent,
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return message


def record_nlu(
    session: Session, *, message_id: int, intent: str | None, confidence: float | None
) -> None:
    """Store the intent NLU gave a person's message."""
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(intent=intent, confidence=confidence)
    )
    facts.nlu(session, message_id=message_id, intent=intent, confidence=confidence)


def mark_delivered(
    session: Session, *, message_ids: Iterable[int], at: datetime | None = None
) -> None:
    """Record that these messages reached the person's channel."""
    ids = list(message_ids)
    if ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(delivered_at=at or utcnow())
        )


def list_messages(
    session: Session,
    *,
    conversation_id: str,
    after_id: int = 0,
    types: Sequence[MessageType] = PERSON_VISIBLE,
    limit: int = 500,
) -> list[Message]:
    """Return the messages of ``types`` after ``after_id``, oldest first."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.id > after_id,
                Message.message_type.in_(list(types)),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def transcript(
    session: Session, *, conversation_id: str, limit: int = 10
) -> list[dict[str, str]]:
    """Return the last ``limit`` person-visible messages as {sender, text} dicts."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.message_type.in_(list(PERSON_VISIBLE)),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return [{"sender": m.sender, "text": m.content} for m in reversed(rows)]


def mark_message_urgent(session: Session, *, message_id: int) -> None:
    """Flag a person's message as one the risk check found urgent."""
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(urgent=True)
        .execution_options(synchronize_session=False)
    )


def last_said(session: Session, *, conversation_id: str) -> Message | None:
    """Return the last message said to the person (automatic notices left out)."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.message_type == MessageType.OUTGOING,
        )
        .order_by(Message.id.desc())
        .limit(20)
    )
    for message in rows:
        if not (message.source_id or "").startswith(NOTICE_PREFIXES):
            return message
    return None


def latest_handoff(session: Session, *, conversation_id: str) -> Handoff | None:
    """Return the most recent handoff of a conversation."""
    return session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()


def set_contact_email(session: Session, *, conversation_id: str, email: str) -> None:
    """Store the address the person left for an adviser's reply."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(contact_email=email, updated_at=utcnow())
    )


def note_first_reply(session: Session, *, conversation_id: str) -> None:
    """Set ``first_reply_at`` if no adviser has replied before."""
    now = utcnow()
    session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.first_reply_at.is_(None),
        )
        .values(first_reply_at=now)
    )
    facts.first_reply(session, conversation_id, at=now)
