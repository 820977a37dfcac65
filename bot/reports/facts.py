"""The anonymous facts reports read, written at the moment each thing happens.

One ``conversation_facts`` row per conversation (started, triaged, handed over,
first adviser reply, resolved, rated) and one ``referral_facts`` row per
transfer between organisations. Everything here runs in the caller's
transaction, so a fact is kept exactly when the change it records is. No text,
names or contact details are ever copied here: only dates, channel, topic,
council area, organisation, how the conversation was handled and its outcome.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Conversation,
    ConversationFacts,
    Message,
    Organisation,
    OrganisationArea,
    ReferralFact,
)
from bot.gateway.hours import AdviserHours
from bot.settings import get_settings

# Regional and national bodies are not "a local organisation" for an area.
NOT_LOCAL_KINDS = ("regional body", "national body")


@lru_cache(maxsize=4)
def _hours(spec: str, tz: str) -> AdviserHours:
    return AdviserHours.parse(spec, tz)


def adviser_hours() -> AdviserHours:
    """Return the configured adviser hours."""
    settings = get_settings()
    return _hours(settings.adviser_hours, settings.adviser_timezone)


def in_hours(at: datetime) -> bool:
    """Return whether ``at`` falls inside adviser hours."""
    return adviser_hours().is_open(at)


def _update(
    session: Session, conversation_id: str, *where: Any, **values: Any
) -> bool:
    """One conditional UPDATE of a conversation's facts; True if a row changed."""
    result = session.execute(
        update(ConversationFacts)
        .where(ConversationFacts.conversation_id == conversation_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def started(session: Session, conversation: Conversation) -> None:
    """Record a new conversation (called where conversations are created)."""
    at = conversation.created_at or utcnow()
    session.add(
        ConversationFacts(
            conversation_id=conversation.id,
            started_at=at,
            channel=conversation.channel,
            started_out_of_hours=not in_hours(at),
        )
    )
    session.flush()


def ensure(session: Session, conversation_id: str) -> bool:
    """Make sure the conversation has a facts row (one made before the facts
    existed, or outside the usual paths); False if the conversation is unknown."""
    session.flush()
    if session.get(ConversationFacts, conversation_id) is not None:
        return True
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return False
    try:
        with session.begin_nested():
            started(session, conversation)
            _copy_triage(session, conversation)
    except IntegrityError:
        pass  # made meanwhile by another transaction: fine
    return True


def _local_organisation_exists(session: Session, lad_code: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    OrganisationArea.lad_code == lad_code,
                    OrganisationArea.organisation_id == Organisation.id,
                    Organisation.active.is_(True),
                    Organisation.is_national.is_(False),
                    Organisation.kind.not_in(NOT_LOCAL_KINDS),
                )
            )
        )
    )


def _copy_triage(session: Session, conversation: Conversation) -> None:
    values: dict[str, object] = {
        "topic": conversation.topic,
        "subtopic": conversation.subtopic,
        "lad_code": conversation.lad_code,
        "organisation_id": conversation.organisation_id,
    }
    known = session.get(ConversationFacts, conversation.id, populate_existing=True)
    if known is not None and all(getattr(known, k) == v for k, v in values.items()):
        return  # nothing new: no write (and no lock taken)
    if conversation.lad_code:
        values["fallback"] = not _local_organisation_exists(
            session, conversation.lad_code
        )
    _update(session, conversation.id, **values)


def triaged(session: Session, conversation: Conversation) -> None:
    """Copy what the assistant settled on (topic, area, organisation)."""
    if ensure(session, conversation.id):
        _copy_triage(session, conversation)


def handed_over(
    session: Session, conversation_id: str, *, reason: str, at: datetime | None = None
) -> None:
    """Record a hand-over: the first one's time and reason; urgent ever after."""
    if not ensure(session, conversation_id):
        return
    at = at or utcnow()
    _update(
        session,
        conversation_id,
        ConversationFacts.handed_over_at.is_(None),
        handed_over_at=at,
        handover_reason=reason,
        handover_out_of_hours=not in_hours(at),
    )
    if reason == "urgent":
        marked_urgent(session, conversation_id)


def marked_urgent(session: Session, conversation_id: str) -> None:
    """Record that someone may have been at risk (never asked for a rating)."""
    if ensure(session, conversation_id):
        _update(session, conversation_id, urgent=True)


def first_reply(
    session: Session, conversation_id: str, *, at: datetime | None = None
) -> None:
    """Record an adviser's first reply after the hand-over."""
    if ensure(session, conversation_id):
        _update(
            session,
            conversation_id,
            ConversationFacts.first_reply_at.is_(None),
            ConversationFacts.handed_over_at.is_not(None),
            first_reply_at=at or utcnow(),
        )


def resolved(
    session: Session, conversation_id: str, *, outcome: str, at: datetime | None = None
) -> None:
    """Record the (latest) resolution and its outcome."""
    if ensure(session, conversation_id):
        _update(
            session,
            conversation_id,
            resolved_at=at or utcnow(),
            outcome=outcome,
        )


def assistant_accepted(
    session: Session, conversation_id: str, *, at: datetime | None = None
) -> bool:
    """Record that the person took the assistant's answer; True the first time."""
    if not ensure(session, conversation_id):
        return False
    return _update(
        session,
        conversation_id,
        ConversationFacts.assistant_accepted_at.is_(None),
        ConversationFacts.handed_over_at.is_(None),
        assistant_accepted_at=at or utcnow(),
    )


def nlu(
    session: Session, *, message_id: int, intent: str | None, confidence: float | None
) -> None:
    """Keep the least confident NLU result of the person's messages."""
    if confidence is None:
        return
    conversation_id = select(Message.conversation_id).where(
        Message.id == message_id
    ).scalar_subquery()
    session.execute(
        update(ConversationFacts)
        .where(
            ConversationFacts.conversation_id == conversation_id,
            or_(
                ConversationFacts.min_confidence.is_(None),
                ConversationFacts.min_confidence > confidence,
            ),
        )
        .values(min_confidence=confidence, min_confidence_intent=intent)
        .execution_options(synchronize_session=False)
    )


def rating_asked(
    session: Session, conversation_id: str, *, at: datetime | None = None
) -> bool:
    """Claim the one rating question of a conversation; False if asked before or
    if it may not be asked (someone was at risk)."""
    if not ensure(session, conversation_id):
        return False
    return _update(
        session,
        conversation_id,
        ConversationFacts.rating_asked_at.is_(None),
        ConversationFacts.urgent.is_(False),
        rating_asked_at=at or utcnow(),
    )


def rated(
    session: Session, conversation_id: str, *, score: int, at: datetime | None = None
) -> bool:
    """Store the person's rating once (only after the question); True if kept."""
    return _update(
        session,
        conversation_id,
        ConversationFacts.rating_asked_at.is_not(None),
        ConversationFacts.rating.is_(None),
        rating=score,
        rated_at=at or utcnow(),
    )


def referred(
    session: Session,
    conversation_id: str,
    *,
    from_organisation_id: str | None,
    to_organisation_id: str,
    at: datetime | None = None,
) -> ReferralFact:
    """Record a transfer of the conversation from one organisation to another."""
    ensure(session, conversation_id)
    facts = session.get(ConversationFacts, conversation_id)
    referral = ReferralFact(
        conversation_id=conversation_id,
        from_organisation_id=from_organisation_id,
        to_organisation_id=to_organisation_id,
        lad_code=facts.lad_code if facts else None,
        topic=facts.topic if facts else None,
        referred_at=at or utcnow(),
    )
    session.add(referral)
    _update(session, conversation_id, organisation_id=to_organisation_id)
    session.flush()
    return referral
