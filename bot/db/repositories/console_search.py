"""Finding conversations in the console: search (any status) and the same
person's other conversations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from bot.db.models import (
    Conversation,
    ConversationStatus,
    LocalAuthority,
    Message,
    MessageType,
)
from bot.db.repositories import access
from bot.db.repositories.console import QueueItem, _items, for_organisation

PAGE_SIZE = 50
MAX_QUERY = 200


@dataclass(frozen=True)
class SearchQuery:
    """What the adviser searched for; every part is optional."""

    text: str = ""
    place: str = ""  # a place name, or a district / county code
    organisation_id: str | None = None
    status: ConversationStatus | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    @property
    def empty(self) -> bool:
        return not (
            self.text
            or self.place
            or self.organisation_id
            or self.status
            or self.since
            or self.until
        )


@dataclass(frozen=True)
class SearchPage:
    """One page of results, newest activity first."""

    items: list[QueueItem]
    page: int
    has_more: bool


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session,
    *,
    query: SearchQuery,
    page: int = 1,
    adviser_id: int | None = None,
    scope: access.Scope | None = None,
) -> SearchPage:
    """Return the conversations matching ``query``, most recently active first.

    ``text`` is looked for in what the person and the adviser wrote (messages and
    notes), in the place name and in the email address left; case-insensitive.
    """
    page = max(1, page)
    stmt = select(Conversation)
    if scope is not None:
        stmt = stmt.where(access.visible(scope))
    if query.text:
        pattern = _like(query.text[:MAX_QUERY])
        in_messages = (
            select(Message.conversation_id)
            .where(
                Message.message_type.in_(
                    [MessageType.INCOMING, MessageType.OUTGOING, MessageType.NOTE]
                ),
                Message.content.ilike(pattern, escape="\\"),
            )
            .distinct()
        )
        stmt = stmt.where(
            or_(
                Conversation.id.in_(in_messages),
                Conversation.place_name.ilike(pattern, escape="\\"),
                Conversation.contact_email.ilike(pattern, escape="\\"),
            )
        )
    if query.place:
        place = query.place[:120]
        in_county = select(LocalAuthority.code).where(
            LocalAuthority.county_code == place
        )
        named = select(LocalAuthority.code).where(
            func.lower(LocalAuthority.name) == place.lower()
        )
        stmt = stmt.where(
            or_(
                Conversation.lad_code == place,
                Conversation.lad_code.in_(in_county),
                Conversation.lad_code.in_(named),
                Conversation.place_name.ilike(_like(place), escape="\\"),
            )
        )
    if query.organisation_id:
        stmt = stmt.where(for_organisation(query.organisation_id))
    if query.status is not None:
        stmt = stmt.where(Conversation.status == query.status)
    if query.since is not None:
        stmt = stmt.where(Conversation.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(Conversation.created_at < query.until)
    rows = list(
        session.scalars(
            stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return SearchPage(
        _items(session, rows[:PAGE_SIZE], adviser_id=adviser_id),
        page,
        len(rows) > PAGE_SIZE,
    )


@dataclass(frozen=True)
class Earlier:
    """Another conversation of the same person, and what links the two."""

    id: str
    topic: str | None
    place_name: str | None
    status: ConversationStatus
    outcome: str | None
    created_at: datetime
    link: str  # "browser", "Telegram account" or "email address"


LINK_WORDS = {"web": "browser", "telegram": "Telegram account"}


def earlier_conversations(
    session: Session,
    *,
    conversation_id: str,
    limit: int = 20,
    scope: access.Scope | None = None,
) -> list[Earlier]:
    """Return the same person's other conversations, newest first.

    The same person: the same widget browser or chat account (channel and
    channel user id), or the same email address left.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return []
    same = []
    if conversation.channel_user_id:
        same.append(
            and_(
                Conversation.channel == conversation.channel,
                Conversation.channel_user_id == conversation.channel_user_id,
            )
        )
    email = (conversation.contact_email or "").strip()
    if email:
        same.append(func.lower(Conversation.contact_email) == email.lower())
    if not same:
        return []
    visible = access.visible(scope) if scope is not None else true()
    rows = session.scalars(
        select(Conversation)
        .where(Conversation.id != conversation_id, or_(*same), visible)
        .order_by(Conversation.created_at.desc())
        .limit(limit)
    )
    found = []
    for c in rows:
        by_channel = (
            conversation.channel_user_id is not None
            and c.channel == conversation.channel
            and c.channel_user_id == conversation.channel_user_id
        )
        link = (
            LINK_WORDS.get(c.channel, f"{c.channel} account")
            if by_channel
            else "email address"
        )
        found.append(
            Earlier(
                c.id, c.topic, c.place_name, c.status, c.outcome, c.created_at, link
            )
        )
    return found
