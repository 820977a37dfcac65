"""What an adviser keeps at their desk: read markers, triage corrections, saved
replies and availability (the moves themselves are bot.conversations.service's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
    AdviserMembership,
    Availability,
    Conversation,
    ConversationRead,
    LocalAuthority,
    Message,
    MessageType,
    Organisation,
    SavedReply,
    TriageCorrection,
)
from bot.db.repositories import access
from bot.reports import facts

TOPICS = ("funding", "governance", "volunteering", "other")
# The subtopics the NLU knows (its retrieval intents, data/nlu), by topic.
SUBTOPICS: dict[str, tuple[str, ...]] = {
    "funding": (
        "bid_writing",
        "contracts",
        "crowdfunding",
        "fundraising_events",
        "gift_aid",
        "grants",
        "legacies",
        "online_giving",
        "sponsorship",
        "trading",
    ),
    "governance": (
        "agm",
        "annual_return",
        "conflicts_of_interest",
        "governing_document",
        "legal_structure",
        "mergers_closing",
        "policies",
        "registering",
        "trustees",
    ),
    "volunteering": (
        "checks",
        "expenses",
        "finding_opportunities",
        "insurance",
        "managing",
        "policies",
        "recruiting",
        "retaining",
        "young_volunteers",
    ),
    "other": (),
}


# ------------------------------------------------------------------ read markers


def mark_read(session: Session, *, adviser_id: int, conversation_id: str) -> None:
    """Record that ``adviser_id`` has seen every message of the conversation."""
    last = session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation_id,
            Message.message_type == MessageType.INCOMING,
        )
    )
    if last is None:
        return
    now = utcnow()
    row = session.get(ConversationRead, (adviser_id, conversation_id))
    if row is not None:
        if row.last_message_id < last:
            row.last_message_id, row.read_at = last, now
        return
    try:
        with session.begin_nested():
            session.add(
                ConversationRead(
                    adviser_id=adviser_id,
                    conversation_id=conversation_id,
                    last_message_id=last,
                    read_at=now,
                )
            )
    except IntegrityError:
        pass  # another tab of the same adviser recorded it first


# ------------------------------------------------------------------ corrections


@dataclass(frozen=True)
class Correction:
    """What an adviser set: a topic (and subtopic), and/or a district and place."""

    topic: str | None = None
    subtopic: str | None = None
    lad_code: str | None = None
    place_name: str | None = None


class BadCorrection(ValueError):
    """A topic, subtopic or district the console does not know."""


def correct_triage(
    session: Session, *, conversation_id: str, adviser_id: int, correction: Correction
) -> list[TriageCorrection]:
    """Store the adviser's topic / place on the conversation and record each change.

    An empty subtopic clears it; the district must be a known one, and the place
    name defaults to the district's name. Returns the recorded changes.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    changes: dict[str, str | None] = {}
    if correction.topic is not None:
        if correction.topic not in TOPICS:
            raise BadCorrection("unknown topic")
        subtopic = correction.subtopic or None
        if subtopic is not None and subtopic not in SUBTOPICS[correction.topic]:
            raise BadCorrection("unknown subtopic for this topic")
        changes["topic"] = correction.topic
        changes["subtopic"] = subtopic
    if correction.lad_code:
        lad = session.get(LocalAuthority, correction.lad_code)
        if lad is None:
            raise BadCorrection("unknown district")
        changes["lad_code"] = lad.code
        changes["place_name"] = (correction.place_name or "").strip()[:120] or lad.name
    recorded = []
    now = utcnow()
    for name, value in changes.items():
        old = getattr(conversation, name)
        if old == value:
            continue
        setattr(conversation, name, value)
        row = TriageCorrection(
            conversation_id=conversation_id,
            adviser_id=adviser_id,
            field=name,
            old_value=old,
            new_value=value,
            created_at=now,
        )
        session.add(row)
        recorded.append(row)
    if recorded:
        conversation.updated_at = now
        session.flush()
        # the reports read the corrected topic and place (issue 15's facts)
        facts.triaged(session, conversation)
    return recorded


def corrections(session: Session, *, conversation_id: str) -> list[TriageCorrection]:
    """Return the corrections recorded for a conversation, oldest first."""
    return list(
        session.scalars(
            select(TriageCorrection)
            .where(TriageCorrection.conversation_id == conversation_id)
            .order_by(TriageCorrection.id)
        )
    )


def districts(session: Session) -> list[tuple[str, str]]:
    """Return every district (code, name with its county), by name."""
    rows = session.execute(
        select(
            LocalAuthority.code, LocalAuthority.name, LocalAuthority.county_name
        ).order_by(LocalAuthority.name)
    ).tuples()
    return [(c, f"{n}, {county}" if county else n) for c, n, county in rows]


# ----------------------------------------------------------------- availability


def set_availability(session: Session, *, adviser_id: int, availability: str) -> None:
    """Set an adviser's availability (available or away)."""
    value = Availability(availability)
    session.execute(
        update(Adviser).where(Adviser.id == adviser_id).values(availability=value.value)
    )


@dataclass(frozen=True)
class Colleague:
    """An adviser as colleagues see them (for assigning and availability)."""

    id: int
    name: str
    organisation_id: str | None
    availability: str
    open_conversations: int


def colleagues(
    session: Session, *, scope: access.Scope | None = None
) -> list[Colleague]:
    """Return active advisers, available first: those sharing an organisation
    with ``scope`` (everyone for a national role or no scope)."""
    open_count = (
        select(Conversation.assignee_id, func.count(Conversation.id).label("n"))
        .where(Conversation.status == "assigned")
        .group_by(Conversation.assignee_id)
        .subquery()
    )
    query = (
        select(
            Adviser.id,
            Adviser.display_name,
            Adviser.organisation_id,
            Adviser.availability,
            func.coalesce(open_count.c.n, 0),
        )
        .outerjoin(open_count, open_count.c.assignee_id == Adviser.id)
        .where(Adviser.active.is_(True))
        .order_by(Adviser.availability, Adviser.display_name)
    )
    if scope is not None and not scope.everything:
        shares = select(AdviserMembership.adviser_id).where(
            AdviserMembership.organisation_id.in_(sorted(scope.organisation_ids))
        )
        query = query.where(Adviser.id.in_(shares))
    return [Colleague(*row) for row in session.execute(query).tuples()]


# ---------------------------------------------------------------- saved replies


MAX_SHORTCUT = 40


class BadSavedReply(ValueError):
    """A saved reply with no shortcut, title or text, or one already taken."""


def normal_shortcut(value: str) -> str:
    """Return a shortcut as stored: lower case, letters, digits, - and _."""
    cleaned = "".join(
        ch for ch in value.strip().lower().lstrip("/") if ch.isalnum() or ch in "-_"
    )
    return cleaned[:MAX_SHORTCUT]


def saved_replies(
    session: Session, *, adviser_id: int, organisation_id: str | None
) -> list[SavedReply]:
    """Return the adviser's own saved replies, then their organisation's."""
    mine = SavedReply.adviser_id == adviser_id
    condition = (
        or_(mine, SavedReply.organisation_id == organisation_id)
        if organisation_id
        else mine
    )
    return list(
        session.scalars(
            select(SavedReply)
            .where(condition)
            .order_by(SavedReply.organisation_id.is_not(None), SavedReply.shortcut)
        )
    )


def add_saved_reply(
    session: Session,
    *,
    adviser_id: int,
    shortcut: str,
    title: str,
    text: str,
    organisation_id: str | None = None,
) -> SavedReply:
    """Save a reply for the adviser, or (``organisation_id``) for their colleagues."""
    key = normal_shortcut(shortcut)
    title, text = title.strip()[:120], text.strip()
    if not key or not title or not text:
        raise BadSavedReply("a saved reply needs a shortcut, a title and a text")
    owner = (
        SavedReply.organisation_id == organisation_id
        if organisation_id
        else SavedReply.adviser_id == adviser_id
    )
    taken = session.scalar(
        select(SavedReply.id).where(owner, SavedReply.shortcut == key)
    )
    if taken is not None:
        raise BadSavedReply(f"the shortcut /{key} is already used")
    reply = SavedReply(
        adviser_id=None if organisation_id else adviser_id,
        organisation_id=organisation_id,
        shortcut=key,
        title=title,
        text=text,
        created_by=adviser_id,
    )
    session.add(reply)
    session.flush()
    return reply


def delete_saved_reply(
    session: Session, *, reply_id: int, adviser_id: int, organisation_id: str | None
) -> bool:
    """Delete a saved reply the adviser may change (their own or their org's)."""
    reply = session.get(SavedReply, reply_id)
    if reply is None:
        return False
    if reply.adviser_id != adviser_id and not (
        organisation_id and reply.organisation_id == organisation_id
    ):
        return False
    session.delete(reply)
    return True


def organisation_name(session: Session, organisation_id: str | None) -> str | None:
    """Return an organisation's name."""
    if not organisation_id:
        return None
    org = session.get(Organisation, organisation_id)
    return org.name if org else None
