"""Recording what the assistant learnt about a conversation, and hand-overs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.db.models import Conversation, ConversationStatus, Handoff
from bot.db.repositories.conversations import (
    apply_transition,
    mark_urgent,
    transcript,
)
from bot.domain.handoff import Transition
from bot.domain.safety import URGENT_REASON


def get_or_create_conversation(
    session: Session, *, conversation_id: str, channel: str
) -> Conversation:
    """Return the conversation, creating it (e.g. for `rasa shell`) if unknown."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=channel)
        session.add(conversation)
        session.flush()
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
    for field, value in (
        ("topic", topic),
        ("subtopic", subtopic),
        ("place_name", place_name),
        ("lad_code", lad_code),
        ("organisation_id", organisation_id),
    ):
        if value is not None:
            setattr(conversation, field, value)
    return conversation


def record_handoff(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    reason: str,
    topic: str | None,
    subtopic: str | None,
    place_name: str | None,
    lad_code: str | None,
    organisation_names: list[str],
    last_messages: list[dict[str, str]],
) -> Handoff:
    """Queue the conversation for an adviser and store the summary they read first.

    A conversation already queued or assigned keeps its state; the new hand-over
    request is still recorded so the adviser sees it. An urgent hand-over also
    raises the conversation to urgent (first in the queue).
    """
    conversation = update_triage(
        session,
        conversation_id=conversation_id,
        channel=channel,
        topic=topic,
        subtopic=subtopic,
        place_name=place_name,
        lad_code=lad_code,
    )
    if conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
        apply_transition(
            session, conversation=conversation, transition=Transition.HAND_OVER
        )
    handoff = Handoff(
        conversation_id=conversation.id,
        reason=reason,
        topic=topic,
        subtopic=subtopic,
        place_name=place_name,
        lad_code=lad_code,
        organisation_names=organisation_names,
        summary=summarise(
            reason=reason,
            topic=topic,
            subtopic=subtopic,
            place_name=place_name,
            lad_code=lad_code,
            organisation_names=organisation_names,
        ),
        last_messages=last_messages,
    )
    session.add(handoff)
    session.flush()
    if reason == URGENT_REASON:
        mark_urgent(session, conversation=conversation)
    return handoff


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


def hand_over(
    session: Session,
    *,
    conversation: Conversation,
    reason: str,
    organisation_names: list[str] | None = None,
) -> Handoff:
    """Queue ``conversation`` for an adviser and write the Handoff they read first."""
    return record_handoff(
        session,
        conversation_id=conversation.id,
        channel=conversation.channel,
        reason=reason,
        topic=conversation.topic,
        subtopic=conversation.subtopic,
        place_name=conversation.place_name,
        lad_code=conversation.lad_code,
        organisation_names=organisation_names or [],
        last_messages=transcript(session, conversation_id=conversation.id),
    )
