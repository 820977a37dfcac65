"""What the assistant learnt about a conversation, and the hand-over summary.

Hand-overs themselves are written by ``bot.conversations.service.hand_over``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import Conversation
from bot.domain.safety import URGENT_REASON
from bot.reports import facts


def get_or_create_conversation(
    session: Session, *, conversation_id: str, channel: str
) -> Conversation:
    """Return the conversation, creating it (e.g. for `rasa shell`) if unknown."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(
            id=conversation_id, channel=channel, created_at=utcnow()
        )
        session.add(conversation)
        session.flush()
        facts.started(session, conversation)
    return conversation


def update_triage(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    topic: str | None = None,
    subtopic: str | None = None,
    place_name: str | None = None,
    lad_code: str | None = None,
    organisation_id: str | None = None,
) -> Conversation:
    """Store the topic, place and organisation the assistant settled on."""
    conversation = get_or_create_conversation(
        session, conversation_id=conversation_id, channel=channel
    )
    values = (
        ("topic", topic),
        ("subtopic", subtopic),
        ("place_name", place_name),
        ("lad_code", lad_code),
        ("organisation_id", organisation_id),
    )
    for field, value in values:
        if value is not None:
            setattr(conversation, field, value)
    if any(value is not None for _, value in values):
        facts.triaged(session, conversation)
    return conversation


REASONS = {
    "asked_for_person": "asked for a person",
    "accepted_offer": "accepted the offer of an adviser",
    URGENT_REASON: "someone may be at risk now: urgent, check first",
    "risk": "reported that someone may be at risk: check first",
    "bot_unavailable": "the assistant was unavailable",
    "other_enquiry": "an enquiry outside funding, governance and volunteering",
}


def summarise(
    *,
    reason: str,
    topic: str | None,
    subtopic: str | None,
    place_name: str | None,
    lad_code: str | None,
    organisation_names: list[str],
) -> str:
    """Return the one-paragraph summary an adviser reads first."""
    parts = [f"Reason: {REASONS.get(reason, reason)}."]
    if topic:
        what = topic.capitalize()
        if subtopic:
            what += f" ({subtopic.replace('_', ' ')})"
        parts.append(f"Topic: {what}.")
    else:
        parts.append("Topic: not identified.")
    if place_name:
        parts.append(f"Place: {place_name}" + (f" ({lad_code})." if lad_code else "."))
    else:
        parts.append("Place: not given.")
    if organisation_names:
        parts.append("Organisations suggested: " + "; ".join(organisation_names) + ".")
    return " ".join(parts)
