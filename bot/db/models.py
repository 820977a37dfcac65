"""Typed models: the directory (authorities, places, organisations, resources)
and the conversations (conversations, messages, handoffs, advisers)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, utcnow

# owned by the state machine; re-exported for the models and their readers
from bot.domain.handoff import ConversationStatus as ConversationStatus


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum by its value, as a string column (no native DB enum)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )

# --------------------------------------------------------------------------------
# Directory
# --------------------------------------------------------------------------------


class Nation(enum.StrEnum):
    ENGLAND = "England"
    WALES = "Wales"
    SCOTLAND = "Scotland"
    NORTHERN_IRELAND = "Northern Ireland"


class LocalAuthority(Base):
    """A current local authority district (LAD), keyed by its ONS/GSS code."""

    __tablename__ = "local_authorities"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    official_name: Mapped[str | None] = mapped_column(String(200))
    la_type: Mapped[str] = mapped_column(String(60))
    nation: Mapped[Nation] = mapped_column(_enum(Nation, "nation"))
    region_code: Mapped[str | None] = mapped_column(String(9))
    region_name: Mapped[str | None] = mapped_column(String(60))
    county_code: Mapped[str | None] = mapped_column(String(9))
    county_name: Mapped[str | None] = mapped_column(String(120))
    upper_tier_code: Mapped[str | None] = mapped_column(String(9))
    upper_tier_name: Mapped[str | None] = mapped_column(String(120))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    alt_names: Mapped[list[str]] = mapped_column(JSON, default=list)

    organisations: Mapped[list[Organisation]] = relationship(
        secondary="organisation_areas", back_populates="areas", viewonly=True
    )


class PostcodeDistrict(Base):
    """An outward code (``TR1``) with the LAD most of its postcodes lie in."""

    __tablename__ = "postcode_districts"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    area: Mapped[str] = mapped_column(String(4))
    lad_code: Mapped[str] = mapped_column(ForeignKey("local_authorities.code"))
    dominant_share: Mapped[float] = mapped_column(Float)
    all_lad_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class Postcode(Base):
    """A full GB postcode (``TR1 2AB``) and the LAD it lies in."""

    __tablename__ = "postcodes"

    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    lad_code: Mapped[str] = mapped_column(ForeignKey("local_authorities.code"))


class Place(Base):
    """A populated place from OS Open Names (GB) or NISRA (NI)."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    name_alt: Mapped[str | None] = mapped_column(String(120))
    name_alt_lang: Mapped[str | None] = mapped_column(String(3))
    place_type: Mapped[str] = mapped_column(String(30))
    lad_code: Mapped[str] = mapped_column(ForeignKey("local_authorities.code"))
    county: Mapped[str | None] = mapped_column(String(120))
    postcode_district: Mapped[str | None] = mapped_column(String(8))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    source_ref: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (UniqueConstraint("source_ref", name="uq_places_source_ref"),)


class Organisation(Base):
    """A local infrastructure organisation or a national body."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    is_national: Mapped[bool] = mapped_column(Boolean, default=False)
    nation: Mapped[Nation] = mapped_column(_enum(Nation, "nation"))
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_url: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    last_verified: Mapped[date | None]
    # issue 14: a closed organisation names who the data has instead
    successor_id: Mapped[str | None] = mapped_column(String(16))
    closed_note: Mapped[str | None] = mapped_column(Text)

    areas: Mapped[list[LocalAuthority]] = relationship(
        secondary="organisation_areas", back_populates="organisations"
    )


class OrganisationArea(Base):
    """Which LADs an organisation covers."""

    __tablename__ = "organisation_areas"

    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    lad_code: Mapped[str] = mapped_column(
        ForeignKey("local_authorities.code", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_organisation_areas_lad_code", "lad_code"),)


class Resource(Base):
    """A page of official guidance, filed under one of our topics."""

    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    topic: Mapped[str] = mapped_column(String(30), index=True)
    # "topic/subtopic" keys (and "topic/general") this page answers
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_topic: Mapped[str] = mapped_column(String(60))
    source_subtopic: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    nations: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text)
    last_verified: Mapped[date | None]


class DirectoryImport(Base):
    """One successful import of the directory data (its content hash and counts)."""

    __tablename__ = "directory_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    data_hash: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------


class MessageType(enum.StrEnum):
    INCOMING = "incoming"  # from the person
    OUTGOING = "outgoing"  # from the bot or an adviser
    ACTIVITY = "activity"  # a status change, shown in the transcript
    NOTE = "note"  # an adviser's internal note, never sent


class Adviser(Base):
    """A person at an LIO who answers handed-over conversations."""

    __tablename__ = "advisers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # issue 10: shown to colleagues in the console ("available" or "away")
    availability: Mapped[str] = mapped_column(
        String(20), default="available", server_default="available"
    )
    # issue 16: the languages the adviser answers in, e.g. "cy,en"
    languages: Mapped[str] = mapped_column(
        String(40), default="en", server_default="en"
    )
    # issue 13: shown to their organisation's admins in the console
    last_sign_in_at: Mapped[datetime | None]
    # issue 13: an initial password an admin was shown once; changed at sign-in
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class Conversation(Base):
    """One person's conversation on one channel."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"),
        default=ConversationStatus.BOT,
        index=True,
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("advisers.id"))
    waiting_since: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    topic: Mapped[str | None] = mapped_column(String(30))
    subtopic: Mapped[str | None] = mapped_column(String(60))
    place_name: Mapped[str | None] = mapped_column(String(120))
    lad_code: Mapped[str | None] = mapped_column(String(9))
    organisation_id: Mapped[str | None] = mapped_column(String(16))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(40))
    # Someone may be at risk now: shown first in the queue until the hand-over
    # ends (resolved or handed back to the bot).
    urgent: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    urgent_since: Mapped[datetime | None]
    # Rasa holds a pause from a hand-over that it has not been told to lift yet
    # (resumed before the bot's next turn, so a hand-back with Rasa down still
    # gives the person a real answer later).
    bot_paused: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # issue 13: when retention or an erasure removed its identifiable content
    anonymised_at: Mapped[datetime | None]
    # issue 16: the conversation's language ("en" or "cy") and how it was set:
    # "detected" from the person's messages or "chosen" (widget toggle, /iaith)
    language: Mapped[str] = mapped_column(
        String(2), default="en", server_default="en"
    )
    language_source: Mapped[str] = mapped_column(
        String(10), default="detected", server_default="detected"
    )

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    handoffs: Mapped[list[Handoff]] = relationship(
        back_populates="conversation", order_by="Handoff.id"
    )

    __table_args__ = (
        Index("ix_conversations_channel_user", "channel", "channel_user_id"),
    )


class Message(Base):
    """A message in a conversation: incoming, outgoing, activity or note."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_type: Mapped[MessageType] = mapped_column(
        _enum(MessageType, "message_type")
    )
    sender: Mapped[str] = mapped_column(String(20))  # person, bot, adviser, system
    adviser_id: Mapped[int | None] = mapped_column(ForeignKey("advisers.id"))
    content: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(120))
    intent: Mapped[str | None] = mapped_column(String(60))
    confidence: Mapped[float | None] = mapped_column(Float)
    delivered_at: Mapped[datetime | None]
    # an incoming message whose turn finished (answered, or passed to advisers)
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the person's message the risk check flagged, or the emergency text itself
    urgent: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (
        UniqueConstraint("channel", "source_id", name="uq_messages_source"),
        Index("ix_messages_unanswered", "message_type", "answered_at"),
    )


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # on its way: the delivery worker will (re)try it
    DELIVERED = "delivered"  # the channel accepted it
    FAILED = "failed"  # given up (or refused for good); an adviser may retry


class Outbox(Base):
    """An outgoing message still to be (or already) sent through its channel.

    Written in the same transaction as the message, so a crash between "stored"
    and "sent" loses nothing; the delivery worker sends each conversation's rows
    in id order and records the outcome.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "outbox_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    # parts of a long message the channel accepted (a retry sends the rest)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "id"),
    )


class Handoff(Base):
    """A hand-over to a person, with the summary the adviser reads first."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(30))
    subtopic: Mapped[str | None] = mapped_column(String(60))
    place_name: Mapped[str | None] = mapped_column(String(120))
    lad_code: Mapped[str | None] = mapped_column(String(9))
    organisation_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    last_messages: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))

    conversation: Mapped[Conversation] = relationship(back_populates="handoffs")


# --------------------------------------------------------------------------------
# Adviser console
# --------------------------------------------------------------------------------


class AdviserSession(Base):
    """A server-side console session; the cookie holds a token, we keep its hash.

    A session without an adviser is a visitor at the login page (it carries the
    login form's CSRF token); signing in replaces it with a new one.
    """

    __tablename__ = "adviser_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    adviser_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """A failed console sign-in, counted per username and client address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80))
    client_ip: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_login_failures_lookup", "username", "client_ip", "created_at"),
    )


# --- issue 13: data protection, adviser organisations, audit ---


class AdviserRole(enum.StrEnum):
    ADVISER = "adviser"  # the conversations routed to their organisations
    ADMIN = "admin"  # the same, plus their organisations' advisers and audit log
    NATIONAL = "national"  # every area


class AdviserMembership(Base):
    """An adviser's place in one organisation, with a role.

    ``organisation_id`` is NULL only for a national role not tied to a body
    (an adviser added without ``--organisation``: every area, as before).
    """

    __tablename__ = "adviser_memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    adviser_id: Mapped[int] = mapped_column(
        ForeignKey("advisers.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    role: Mapped[AdviserRole] = mapped_column(_enum(AdviserRole, "adviser_role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "adviser_id", "organisation_id", name="uq_adviser_memberships_pair"
        ),
    )


class AuditEntry(Base):
    """Who opened, exported or erased which conversation, and when.

    Never what was in it: an erasure keeps how many conversations it removed.
    ``conversation_id`` is a random id (no foreign key, so the entry outlives
    the conversation).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(120))  # adviser username, or cli:user
    adviser_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="SET NULL")
    )
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    conversations: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    detail: Mapped[str | None] = mapped_column(String(200))
    # issue 13: the organisation an adviser change was made in (no foreign key:
    # the entry outlives a directory re-import)
    organisation_id: Mapped[str | None] = mapped_column(String(64))



# --- issue 14: directory edit layer ---


class LadCodeChange(Base):
    """A superseded council code and its current successor (ONS code history)."""

    __tablename__ = "lad_code_changes"

    old_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    old_name: Mapped[str] = mapped_column(String(120))
    current_code: Mapped[str] = mapped_column(String(9), index=True)
    current_name: Mapped[str] = mapped_column(String(120))


class OrganisationOverride(Base):
    """An operator's values for an organisation, laid over the shipped data.

    ``values`` holds only the fields the operators changed ("lad_codes" for the
    areas); ``shipped`` the shipped value of each when it was changed, so a
    re-import can say where new shipped data and an edit disagree. No foreign
    key: the layer outlives the shipped row it sits on.
    """

    __tablename__ = "organisation_overrides"

    organisation_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    added: Mapped[bool] = mapped_column(Boolean, default=False)  # not shipped
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))


class OrganisationEdit(Base):
    """One recorded change to the directory: who, when, before and after."""

    __tablename__ = "organisation_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(String(16), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(20))  # add | edit | close | revert
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reverts_id: Mapped[int | None] = mapped_column(Integer)
    reverted_by_id: Mapped[int | None] = mapped_column(Integer)


class DirectoryReport(Base):
    """A person's "Is this wrong?" about an entry, queued for the operators."""

    __tablename__ = "directory_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(String(16), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    lad_code: Mapped[str | None] = mapped_column(String(9))
    place_name: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None]


# --- issue 10: console and widget ---

# Console (adviser side): the queue and search indexes, read markers, triage
# corrections, transfers between organisations, saved replies.

Index("ix_conversations_queue", Conversation.status, Conversation.waiting_since)
Index("ix_conversations_updated_at", Conversation.updated_at)
Index("ix_conversations_created_at", Conversation.created_at)
Index("ix_conversations_contact_email", Conversation.contact_email)
Index("ix_conversations_organisation_id", Conversation.organisation_id)
Index("ix_conversations_lad_code", Conversation.lad_code)


class Availability(enum.StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


class ConversationRead(Base):
    """How far an adviser has read a conversation (the queue's unread badges)."""

    __tablename__ = "conversation_reads"

    adviser_id: Mapped[int] = mapped_column(
        ForeignKey("advisers.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    last_message_id: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class TriageCorrection(Base):
    """An adviser's correction of what the bot understood (topic or place).

    The conversation's own columns hold the corrected value; this row keeps what
    it was, who changed it and when (the reports count corrections from here).
    """

    __tablename__ = "triage_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    adviser_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="SET NULL")
    )
    field: Mapped[str] = mapped_column(String(20))  # topic, subtopic, place, lad
    old_value: Mapped[str | None] = mapped_column(String(120))
    new_value: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """A conversation passed to another organisation's queue, with a note.

    One row per transfer (the reports count them as referrals).
    """

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_organisation_id: Mapped[str | None] = mapped_column(String(16))
    to_organisation_id: Mapped[str] = mapped_column(String(16), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    adviser_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedReply(Base):
    """A reply an adviser (or everyone at an organisation) saved to reuse.

    Exactly one of ``adviser_id`` (own) and ``organisation_id`` (shared) is set.
    """

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    adviser_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[str | None] = mapped_column(String(16), index=True)
    shortcut: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("advisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- issue 11: Telegram ---


class TelegramMessage(Base):
    """What Telegram told us about a person's stored message: where it came from
    (for de-duplication that survives Telegram restarting its update ids) and
    the file it carried, as Telegram's file id (never downloaded by default)."""

    __tablename__ = "telegram_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[str] = mapped_column(String(32))
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]  # Telegram's date of the message
    kind: Mapped[str] = mapped_column(String(20))  # text, photo, voice, ...
    edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    file_id: Mapped[str | None] = mapped_column(String(200))
    file_unique_id: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # when the channel finished answering the update (later ones wait for it)
    handled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_telegram_messages_chat", "chat_id", "tg_message_id"),
    )


class TelegramProfile(Base):
    """The Telegram person behind a conversation, as the console card shows them,
    and where they came from (the /start deep-link parameter)."""

    __tablename__ = "telegram_profiles"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    display_name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))  # /start parameter
    language: Mapped[str | None] = mapped_column(String(8))  # asked for by /iaith
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- issue 15: reports, ratings, referrals ---


class ConversationFacts(Base):
    """The anonymous facts of one conversation, which reports read.

    Written by the bot at the moment each thing happens (bot.reports.facts) and
    never joined to the conversation: no foreign key, so the retention sweep or
    an erasure that deletes the conversation leaves its figures counted. Holds
    no text, names, emails or channel user ids: dates, channel, topic, council
    area, organisation, how it was handled, outcome and rating.
    """

    __tablename__ = "conversation_facts"

    # the conversation's random id (links to nothing once the conversation goes)
    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(30))
    subtopic: Mapped[str | None] = mapped_column(String(60))
    lad_code: Mapped[str | None] = mapped_column(String(9), index=True)
    organisation_id: Mapped[str | None] = mapped_column(String(16), index=True)
    # the area has no local organisation: the national body was named instead
    fallback: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    started_out_of_hours: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    handed_over_at: Mapped[datetime | None]
    handover_reason: Mapped[str | None] = mapped_column(String(40))
    handover_out_of_hours: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_reply_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    # the person took the assistant's answer (declined a person, or thanked it)
    assistant_accepted_at: Mapped[datetime | None]
    # the least sure the assistant was about one of the person's messages
    min_confidence: Mapped[float | None] = mapped_column(Float)
    min_confidence_intent: Mapped[str | None] = mapped_column(String(60))
    rating_asked_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None]


class ReferralFact(Base):
    """One conversation passed from one organisation to another (a referral).

    Anonymous like ConversationFacts: organisations, area, topic and time only.
    """

    __tablename__ = "referral_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    from_organisation_id: Mapped[str | None] = mapped_column(String(16), index=True)
    to_organisation_id: Mapped[str] = mapped_column(String(16), index=True)
    lad_code: Mapped[str | None] = mapped_column(String(9))
    topic: Mapped[str | None] = mapped_column(String(30))
    referred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)



# --- issue 16: language ---


# --- issue 12: scaled profile ---
