"""What the adviser console reads and writes: the queue, transcripts and the moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from bot.conversations.service import Conflict
from bot.db.models import (
    Adviser,
    Conversation,
    ConversationRead,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Organisation,
    OrganisationArea,
    Outbox,
    Resource,
    TelegramProfile,
)
from bot.db.repositories import access
from bot.db.repositories.briefs import Brief, briefs, local_organisations, pressed_title
from bot.directory.service import resources_for
from bot.domain.safety import URGENT_REASON
from bot.i18n import text

Status = ConversationStatus

REASON_TEXT = {
    "asked_for_person": "Asked for a person",
    "accepted_offer": "Accepted the offer of an adviser",
    URGENT_REASON: "Someone may be at risk now: urgent, check first",
    "risk": "Someone may be at risk: check first",
    "bot_unavailable": "The assistant was unavailable",
    "other_enquiry": "Enquiry outside funding, governance and volunteering",
}

SENDER_LABELS = {"person": "Person", "bot": "Front Door bot", "system": "System"}


# The conversation is not in a state that allows what the adviser asked.
ConsoleConflict = Conflict


# --------------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffSummary:
    """The hand-over summary an adviser reads before picking a conversation up."""

    reason: str
    reason_text: str
    topic: str | None
    subtopic: str | None
    place_name: str | None
    lad_code: str | None
    organisation_names: list[str]
    summary: str
    last_messages: list[tuple[str, str]]
    created_at: datetime


@dataclass(frozen=True)
class QueueItem:
    """One conversation as the queue shows it."""

    id: str
    channel: str
    status: Status
    waiting_since: datetime | None
    topic: str | None
    subtopic: str | None
    place_name: str | None
    lad_code: str | None
    lad_name: str | None
    county_name: str | None
    nation: str | None
    organisation_id: str | None
    organisation_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    outcome: str | None
    handoff: HandoffSummary | None
    urgent: bool = False
    urgent_since: datetime | None = None
    # the person as Telegram names them, and the deep link they came from
    person_name: str | None = None
    person_username: str | None = None
    source: str | None = None
    language: str = "en"  # issue 16: the conversation's language
    brief: Brief = field(default_factory=Brief)
    # the local organisations covering the district (when none was chosen)
    lio_names: list[str] = field(default_factory=list)
    unread: int = 0  # the person's messages the adviser has not opened yet
    contact_email: str | None = None
    channel_user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def at_risk(self) -> bool:
        """Urgent now, or handed over because someone may be at risk."""
        return self.urgent or (
            self.handoff is not None and self.handoff.reason in ("risk", URGENT_REASON)
        )

    @property
    def lio(self) -> str:
        """The LIO as the adviser reads it: chosen, else covering the district."""
        if self.organisation_name:
            return self.organisation_name
        return "; ".join(self.lio_names)


@dataclass(frozen=True)
class FilterChoices:
    """The values the queue can be filtered by: LIOs, counties and districts."""

    organisations: list[tuple[str, str]] = field(default_factory=list)
    counties: list[tuple[str, str]] = field(default_factory=list)
    districts: list[tuple[str, str]] = field(default_factory=list)


def _summary(handoff: Handoff) -> HandoffSummary:
    last = []
    for m in handoff.last_messages or []:
        if isinstance(m, dict):
            sender = str(m.get("sender") or m.get("role") or "")
            text = str(m.get("text") or m.get("content") or "")
            last.append((SENDER_LABELS.get(sender, sender.capitalize()), text))
    return HandoffSummary(
        reason=handoff.reason,
        reason_text=REASON_TEXT.get(handoff.reason, handoff.reason.replace("_", " ")),
        topic=handoff.topic,
        subtopic=handoff.subtopic,
        place_name=handoff.place_name,
        lad_code=handoff.lad_code,
        organisation_names=list(handoff.organisation_names or []),
        summary=handoff.summary,
        last_messages=last,
        created_at=handoff.created_at,
    )


def unread_counts(
    session: Session, *, adviser_id: int, conversation_ids: list[str]
) -> dict[str, int]:
    """Return how many of the person's messages ``adviser_id`` has not opened."""
    if not conversation_ids:
        return {}
    read = and_(
        ConversationRead.conversation_id == Message.conversation_id,
        ConversationRead.adviser_id == adviser_id,
    )
    rows = session.execute(
        select(Message.conversation_id, func.count(Message.id))
        .outerjoin(ConversationRead, read)
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.message_type == MessageType.INCOMING,
            Message.id > func.coalesce(ConversationRead.last_message_id, 0),
        )
        .group_by(Message.conversation_id)
    ).tuples()
    return {cid: int(n) for cid, n in rows}


def _items(
    session: Session,
    conversations: list[Conversation],
    *,
    adviser_id: int | None = None,
    with_briefs: bool = True,
) -> list[QueueItem]:
    """Join conversations with their latest handoff, district, LIO, assignee,
    brief and unread count (for ``adviser_id``)."""
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    latest: dict[str, Handoff] = {}
    for h in session.scalars(
        select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
    ):
        latest[h.conversation_id] = h
    lad_codes = {c.lad_code for c in conversations if c.lad_code}
    lads = {
        a.code: a
        for a in session.scalars(
            select(LocalAuthority).where(LocalAuthority.code.in_(lad_codes))
        )
    }
    org_ids = {c.organisation_id for c in conversations if c.organisation_id}
    orgs = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_(org_ids)
            )
        )
        .tuples()
        .all()
    )
    adviser_ids = {c.assignee_id for c in conversations if c.assignee_id}
    names = dict(
        session.execute(
            select(Adviser.id, Adviser.display_name).where(Adviser.id.in_(adviser_ids))
        )
        .tuples()
        .all()
    )
    covering = local_organisations(
        session,
        lad_codes={
            c.lad_code for c in conversations if c.lad_code and not c.organisation_id
        },
    )
    found_briefs = briefs(session, conversation_ids=ids) if with_briefs else {}
    unread = (
        unread_counts(session, adviser_id=adviser_id, conversation_ids=ids)
        if adviser_id is not None
        else {}
    )
    profiles = {
        p.conversation_id: p
        for p in session.scalars(
            select(TelegramProfile).where(TelegramProfile.conversation_id.in_(ids))
        )
    }
    items = []
    for c in conversations:
        lad = lads.get(c.lad_code or "")
        profile = profiles.get(c.id)
        handoff = latest.get(c.id)
        items.append(
            QueueItem(
                id=c.id,
                channel=c.channel,
                status=c.status,
                waiting_since=c.waiting_since,
                topic=c.topic,
                subtopic=c.subtopic,
                place_name=c.place_name,
                lad_code=c.lad_code,
                lad_name=lad.name if lad else None,
                county_name=lad.county_name if lad else None,
                nation=lad.nation.value if lad else None,
                organisation_id=c.organisation_id,
                organisation_name=orgs.get(c.organisation_id or ""),
                assignee_id=c.assignee_id,
                assignee_name=names.get(c.assignee_id or 0),
                outcome=c.outcome,
                handoff=_summary(handoff) if handoff else None,
                urgent=c.urgent,
                urgent_since=c.urgent_since,
                person_name=profile.display_name if profile else None,
                person_username=profile.username if profile else None,
                source=profile.source if profile else None,
                language=c.language or "en",
                brief=found_briefs.get(c.id, Brief()),
                lio_names=[n for _, n in covering.get(c.lad_code or "", [])],
                unread=unread.get(c.id, 0),
                contact_email=c.contact_email,
                channel_user_id=c.channel_user_id,
                created_at=c.created_at,
                updated_at=c.updated_at,
            )
        )
    return items


# Urgent conversations lead, the longest-urgent first.
URGENT_FIRST = (
    Conversation.urgent.desc(),
    Conversation.urgent_since.asc().nulls_last(),
)


# Handed over because someone may be at risk (not urgent now): next after urgent.
AT_RISK = exists().where(
    Handoff.conversation_id == Conversation.id,
    Handoff.reason == "risk",
    Handoff.resolved_at.is_(None),
)


def for_organisation(organisation_id: str) -> Any:
    """Return the condition "in this organisation's queue".

    The organisation the conversation was given to (by a transfer), else every
    conversation from a district the organisation covers.
    """
    covered = select(OrganisationArea.lad_code).where(
        OrganisationArea.organisation_id == organisation_id
    )
    return or_(
        Conversation.organisation_id == organisation_id,
        and_(
            Conversation.organisation_id.is_(None),
            Conversation.lad_code.in_(covered),
        ),
    )


def _queue_filter(
    *,
    organisation_id: str | None,
    area: str | None,
    scope: access.Scope | None,
    language: str | None = None,
) -> list[Any]:
    # a conversation the retention sweep anonymised keeps its status (its facts
    # count in the reports) but has nothing left for an adviser to answer
    conditions: list[Any] = [
        Conversation.status == Status.QUEUED,
        Conversation.anonymised_at.is_(None),
    ]
    if scope is not None:
        conditions.append(access.visible(scope))
    if organisation_id:
        conditions.append(for_organisation(organisation_id))
    if area:
        in_county = select(LocalAuthority.code).where(
            LocalAuthority.county_code == area
        )
        conditions.append(
            or_(Conversation.lad_code == area, Conversation.lad_code.in_(in_county))
        )
    if language:
        conditions.append(Conversation.language == language)
    return conditions


def list_queue(
    session: Session,
    *,
    organisation_id: str | None = None,
    area: str | None = None,
    language: str | None = None,
    limit: int = 200,
    scope: access.Scope | None = None,
    adviser_id: int | None = None,
) -> list[QueueItem]:
    """Return queued conversations: urgent first, then those where someone may be
    at risk, then the longest waiting; optionally for one LIO or area.

    ``organisation_id`` matches the organisation a conversation was transferred
    to, else any district it covers; ``area`` is a district (LAD) or county code;
    ``scope`` (the console always passes it) keeps only what the adviser may see.
    """
    query = (
        select(Conversation)
        .where(
            *_queue_filter(
                organisation_id=organisation_id,
                area=area,
                scope=scope,
                language=language,
            )
        )
        .order_by(
            *URGENT_FIRST,
            case((AT_RISK, 0), else_=1),
            Conversation.waiting_since.asc().nulls_last(),
            Conversation.created_at,
            Conversation.id,
        )
        .limit(limit)
    )
    return _items(session, list(session.scalars(query)), adviser_id=adviser_id)


def count_queue(
    session: Session,
    *,
    organisation_id: str | None = None,
    area: str | None = None,
    scope: access.Scope | None = None,
    language: str | None = None,
) -> int:
    """Return how many conversations wait (the same filters as list_queue)."""
    return int(
        session.scalar(
            select(func.count(Conversation.id)).where(
                *_queue_filter(
                    organisation_id=organisation_id,
                    area=area,
                    scope=scope,
                    language=language,
                )
            )
        )
        or 0
    )


def list_assigned(
    session: Session, *, adviser_id: int, scope: access.Scope | None = None
) -> list[QueueItem]:
    """Return the conversations ``adviser_id`` holds, urgent first, then oldest."""
    query = (
        select(Conversation)
        .where(
            Conversation.status == Status.ASSIGNED,
            Conversation.assignee_id == adviser_id,
            Conversation.anonymised_at.is_(None),
            access.visible(scope) if scope is not None else true(),
        )
        .order_by(
            *URGENT_FIRST,
            Conversation.waiting_since.asc().nulls_last(),
            Conversation.id,
        )
    )
    return _items(session, list(session.scalars(query)), adviser_id=adviser_id)


def filter_choices(
    session: Session, scope: access.Scope | None = None, *, areas: bool = True
) -> FilterChoices:
    """Return the LIOs, counties and districts the queue can be filtered by
    (the LIOs of the adviser's organisations unless they see every area)."""
    mine = (
        Organisation.id.in_(sorted(scope.organisation_ids))
        if scope is not None and not scope.everything
        else true()
    )
    organisations = [
        (i, n)
        for i, n in session.execute(
            select(Organisation.id, Organisation.name)
            .where(
                Organisation.active.is_(True),
                Organisation.is_national.is_(False),
                mine,
            )
            .order_by(Organisation.name)
        ).tuples()
    ]
    if not areas:
        return FilterChoices(organisations)
    counties = [
        (c, n)
        for c, n in session.execute(
            select(LocalAuthority.county_code, LocalAuthority.county_name)
            .where(LocalAuthority.county_code.is_not(None))
            .distinct()
            .order_by(LocalAuthority.county_name)
        ).tuples()
        if c and n
    ]
    districts = [
        (c, n)
        for c, n in session.execute(
            select(LocalAuthority.code, LocalAuthority.name).order_by(
                LocalAuthority.name
            )
        ).tuples()
    ]
    return FilterChoices(organisations, counties, districts)


# --------------------------------------------------------------------------------
# Transcript
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptLine:
    """One message as the transcript shows it."""

    id: int
    kind: MessageType
    sender: str
    sender_label: str
    text: str
    intent: str | None
    confidence: float | None
    buttons: list[str]
    created_at: datetime
    delivered_at: datetime | None
    urgent: bool = False
    # an outgoing message's way to the person: pending, delivered or failed
    delivery: str | None = None
    delivery_error: str | None = None
    # a button the person pressed (its title), shown instead of its payload
    pressed: str | None = None
    channel: str = ""  # "email" for a reply sent by email


@dataclass(frozen=True)
class CannedReply:
    """A ready-made reply whose link comes from the directory, never typed in."""

    key: str
    label: str
    text: str


def conversation_item(
    session: Session, *, conversation_id: str, adviser_id: int | None = None
) -> QueueItem | None:
    """Return one conversation with its summary, whatever its status."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    return _items(session, [conversation], adviser_id=adviser_id)[0]


def list_transcript(
    session: Session, *, conversation_id: str, after_id: int = 0, limit: int = 1000
) -> list[TranscriptLine]:
    """Return every kind of message after ``after_id``, oldest first."""
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .order_by(Message.id)
            .limit(limit)
        )
    )
    adviser_ids = {m.adviser_id for m in rows if m.adviser_id}
    names = dict(
        session.execute(
            select(Adviser.id, Adviser.display_name).where(Adviser.id.in_(adviser_ids))
        )
        .tuples()
        .all()
    )
    outgoing = [m.id for m in rows if m.message_type is MessageType.OUTGOING]
    deliveries = {
        mid: (state.value, error)
        for mid, state, error in session.execute(
            select(Outbox.message_id, Outbox.state, Outbox.last_error).where(
                Outbox.message_id.in_(outgoing)
            )
        ).tuples()
    }
    offered = _buttons_before(session, conversation_id, rows[0].id) if rows else None
    lines = []
    for m in rows:
        pressed = None
        if m.message_type is MessageType.OUTGOING:
            offered = m.buttons
        elif m.message_type is MessageType.INCOMING:
            pressed = pressed_title(m.content.strip(), offered)
        if m.sender == "adviser":
            label = names.get(m.adviser_id or 0, "Adviser")
        else:
            label = SENDER_LABELS.get(m.sender, m.sender.capitalize())
        lines.append(
            TranscriptLine(
                id=m.id,
                kind=m.message_type,
                sender=m.sender,
                sender_label=label,
                text=m.content,
                intent=m.intent,
                confidence=m.confidence,
                buttons=[str(b.get("title", "")) for b in (m.buttons or [])],
                created_at=m.created_at,
                delivered_at=m.delivered_at,
                urgent=m.urgent,
                delivery=deliveries.get(m.id, (None, None))[0],
                delivery_error=deliveries.get(m.id, (None, None))[1],
                pressed=pressed,
                channel=m.channel,
            )
        )
    return lines


def _buttons_before(
    session: Session, conversation_id: str, message_id: int
) -> list[dict[str, str]] | None:
    """Return the buttons of the last outgoing message before ``message_id``."""
    return session.scalar(
        select(Message.buttons)
        .where(
            Message.conversation_id == conversation_id,
            Message.message_type == MessageType.OUTGOING,
            Message.id < message_id,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


def canned_replies(session: Session, *, conversation_id: str) -> list[CannedReply]:
    """Return replies for the conversation's topic, built from the directory.

    Guidance pages come from the Resource table (resources_for) and the local
    organisation's contact details from Organisation; nothing is made up here.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return []
    nation = None
    if conversation.lad_code:
        lad = session.get(LocalAuthority, conversation.lad_code)
        nation = lad.nation if lad else None
    replies = []
    if conversation.topic:
        for res in resources_for(
            session,
            topic=conversation.topic,
            subtopic=conversation.subtopic,
            nation=nation,
            limit=5,
        ):
            replies.append(_resource_reply(res, conversation.language))
    if conversation.organisation_id:
        org = session.get(Organisation, conversation.organisation_id)
        if org is not None and (org.website or org.email or org.phone):
            contact = "; ".join(x for x in (org.website, org.email, org.phone) if x)
            replies.append(
                CannedReply(
                    key=f"organisation:{org.id}",
                    label=f"Refer to {org.name}" + _in_welsh(conversation.language),
                    text=text(
                        "canned_replies.organisation",
                        conversation.language,
                        name=org.name,
                        contact=contact,
                    ),
                )
            )
    return replies


def _in_welsh(language: str | None) -> str:
    """Marks a canned reply's label when its text is in Welsh (issue 16)."""
    return " (Cymraeg)" if language == "cy" else ""


def _resource_reply(res: Resource, language: str | None = None) -> CannedReply:
    """A guidance page in the conversation's language (the page itself is the
    directory's, English unless it says otherwise)."""
    return CannedReply(
        key=f"resource:{res.id}",
        label=f"{res.title} ({res.publisher})" + _in_welsh(language),
        text=text(
            "canned_replies.resource",
            language,
            publisher=res.publisher,
            title=res.title,
            url=res.url,
        ),
    )


def canned_reply(
    session: Session, *, conversation_id: str, key: str
) -> CannedReply | None:
    """Return the canned reply ``key`` if it is offered for this conversation."""
    for reply in canned_replies(session, conversation_id=conversation_id):
        if reply.key == key:
            return reply
    return None


# --------------------------------------------------------------------------------
# Notes and replies (the moves are bot.conversations.service's)
# --------------------------------------------------------------------------------


def add_note(
    session: Session, *, conversation_id: str, adviser: Adviser, text: str
) -> Message:
    """Add an internal note: shown to advisers, never sent to the person."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    message = Message(
        conversation_id=conversation_id,
        message_type=MessageType.NOTE,
        sender="adviser",
        adviser_id=adviser.id,
        content=text,
        channel=conversation.channel,
    )
    session.add(message)
    session.flush()
    return message


def check_can_reply(
    session: Session, *, conversation_id: str, adviser_id: int
) -> Conversation:
    """Return the conversation if ``adviser_id`` holds it; raise otherwise."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    if conversation.status is not Status.ASSIGNED:
        raise ConsoleConflict("pick the conversation up before replying")
    if conversation.assignee_id != adviser_id:
        raise ConsoleConflict("another adviser has this conversation")
    return conversation


def neighbours(
    session: Session,
    *,
    conversation_id: str,
    adviser_id: int,
    scope: access.Scope | None = None,
) -> tuple[str | None, str | None]:
    """Return the conversations before and after this one in the adviser's lists
    (their own, then the queue, in the queue's order), for j / k."""
    mine = select(Conversation.id).where(
        Conversation.status == Status.ASSIGNED, Conversation.assignee_id == adviser_id
    )
    waiting = select(Conversation.id).where(Conversation.status == Status.QUEUED)
    if scope is not None:
        waiting = waiting.where(access.visible(scope))
    ids: list[str] = []
    for query in (mine, waiting):
        ids.extend(
            session.scalars(
                query.order_by(
                    *URGENT_FIRST,
                    case((AT_RISK, 0), else_=1),
                    Conversation.waiting_since.asc().nulls_last(),
                    Conversation.created_at,
                    Conversation.id,
                ).limit(500)
            )
        )
    if conversation_id not in ids:
        return None, ids[0] if ids else None
    at = ids.index(conversation_id)
    return (ids[at - 1] if at > 0 else None), (
        ids[at + 1] if at + 1 < len(ids) else None
    )
