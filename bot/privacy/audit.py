"""The audit log: every opening of a transcript, export and erasure.

An entry says who (an adviser's username, or ``cli:<login>`` for the command
line), when, what (``transcript_opened``, ``exported``, ``erased``, ``swept``)
and which conversation, never what the conversation said; an admin's changes
to their organisation's advisers (``adviser_added``, ``role_changed``,
``adviser_removed``) say which organisation and whom. Admins read the
entries about their organisations' conversations and advisers in the console
(``/console/audit``); a national role reads them all.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.db.models import Adviser, AuditEntry, Conversation
from bot.db.repositories import access

TRANSCRIPT_OPENED = "transcript_opened"
EXPORTED = "exported"
ERASED = "erased"
SWEPT = "swept"
# issue 13: an admin's changes to their organisation's advisers (console)
ADVISER_ADDED = "adviser_added"
ROLE_CHANGED = "role_changed"
ADVISER_REMOVED = "adviser_removed"
ADVISER_DEACTIVATED = "adviser_deactivated"  # the command line

ACTION_TEXT = {
    TRANSCRIPT_OPENED: "Opened the transcript",
    EXPORTED: "Exported what is held",
    ERASED: "Erased on request",
    SWEPT: "Retention sweep",
    ADVISER_ADDED: "Added an adviser",
    ROLE_CHANGED: "Changed an adviser's role",
    ADVISER_REMOVED: "Removed an adviser",
    ADVISER_DEACTIVATED: "Deactivated an adviser",
}


def cli_actor() -> str:
    """Return the actor name of a command-line user (``cli:<login>``)."""
    try:
        login = getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        login = "unknown"
    return f"cli:{login}"[:120]


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    adviser_id: int | None = None,
    conversation_id: str | None = None,
    conversations: int = 0,
    detail: str | None = None,
    at: datetime | None = None,
    organisation_id: str | None = None,
) -> AuditEntry:
    """Add one audit entry (flushed, committed with the caller's transaction)."""
    entry = AuditEntry(
        action=action,
        actor=actor[:120],
        adviser_id=adviser_id,
        conversation_id=conversation_id,
        conversations=conversations,
        detail=detail[:200] if detail else None,
        organisation_id=organisation_id,
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditLine:
    """One audit entry as the console shows it."""

    at: datetime
    action: str
    action_text: str
    actor: str
    conversation_id: str | None
    conversations: int
    detail: str | None
    organisation_id: str | None = None


def entries_for(
    session: Session, scope: access.Scope, *, limit: int = 200
) -> list[AuditLine]:
    """Return the newest entries ``scope`` may read (none for a plain adviser).

    An admin reads what happened to their organisations' conversations and
    what their organisations' advisers did; a national role reads everything.
    """
    if not scope.is_admin:
        return []
    query = select(AuditEntry)
    if not scope.everything:
        admin_scope = access.Scope(
            scope.adviser_id,
            organisation_ids=scope.admin_of,
            admin_of=scope.admin_of,
        )
        theirs = select(Conversation.id).where(access.visible(admin_scope))
        query = query.where(
            or_(
                AuditEntry.conversation_id.in_(theirs),
                AuditEntry.adviser_id.in_(
                    select(Adviser.id).where(access.advisers_managed_by(scope))
                ),
                AuditEntry.organisation_id.in_(sorted(scope.admin_of)),
            )
        )
    rows = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return [
        AuditLine(
            at=r.at,
            action=r.action,
            action_text=ACTION_TEXT.get(r.action, r.action),
            actor=r.actor,
            conversation_id=r.conversation_id,
            conversations=r.conversations,
            detail=r.detail,
            organisation_id=r.organisation_id,
        )
        for r in rows
    ]
