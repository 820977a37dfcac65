"""Erasure on request and anonymisation by the retention policy, in every store.

``erase_conversations`` removes whole conversations (the person asked): their
rows and everything that refers to them, Rasa's events, and the log lines
that name them. ``anonymise_conversations`` (the retention sweep) keeps only
the anonymous facts the reports count (dates, channel, topic, council area,
organisation, outcome, urgency, and the hand-over's reason and outcome), and
removes the rest the same way. Either way one audit entry says when, by whom
and how many conversations, never which or what was in them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, event, update
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import Conversation, Handoff, Message
from bot.db.session import session_scope
from bot.privacy import audit, stores
from bot.settings import get_settings

log = logging.getLogger(__name__)

# Tables that refer to conversations and hold anonymous facts the sweep keeps,
# with the columns it blanks (set to NULL) in them; any other such table's rows
# are deleted by the sweep. Handoffs are handled below (summary and messages).
KEPT_ON_SWEEP: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Removed:
    """What one erasure or sweep removed (counts only)."""

    conversations: int
    tracker_events: int
    log_lines: int = 0


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed."""

    def run(_session: Session) -> None:
        try:
            action()
        except Exception:
            log.exception("privacy: clean-up after commit failed")

    event.listen(session, "after_commit", run, once=True)


def _clean_up(session: Session, needles: list[str]) -> Callable[[], None]:
    """Return the clean-up after commit: empty SQLite's WAL and scrub the logs."""
    bind = session.get_bind()

    def run() -> None:
        stores.checkpoint_wal(bind)
        stores.scrub_logs(get_settings().log_dir, needles)

    return run


def _needles(session: Session, conversation_ids: Sequence[str]) -> list[str]:
    """What identifies these conversations in a log line: ids, chat ids, emails."""
    found: list[str] = list(conversation_ids)
    for channel_user_id, email in (
        session.query(Conversation.channel_user_id, Conversation.contact_email)
        .filter(Conversation.id.in_(list(conversation_ids)))
        .all()
    ):
        found.extend(x for x in (channel_user_id, email) if x)
    return found


def erase_conversations(
    session: Session,
    conversation_ids: Sequence[str],
    *,
    by: str,
    adviser_id: int | None = None,
    how: str = "",
) -> Removed:
    """Remove these conversations from every store, in the caller's transaction.

    The log lines and SQLite's write-ahead log are cleaned once it commits.
    ``by`` is who asked ("person", an adviser's username, ``cli:<login>``);
    ``how`` how they were found ("by email address"), never the address itself.
    """
    ids = list(dict.fromkeys(conversation_ids))
    needles = _needles(session, ids)
    events = stores.delete_tracker_events(session, ids)
    count = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        count += stores.delete_rows(
            session, _table(Conversation), Conversation.id.in_(chunk)
        )
    audit.record(
        session,
        action=audit.ERASED,
        actor=by,
        adviser_id=adviser_id,
        conversations=count,
        detail=how or None,
    )
    _after_commit(session, _clean_up(session, needles))
    log.info("privacy: erased %d conversation(s)", count)
    return Removed(count, events)


def anonymise_conversations(
    session: Session,
    conversation_ids: Sequence[str],
    *,
    by: str,
    now: datetime | None = None,
) -> Removed:
    """Keep only the anonymous facts of these conversations (the sweep)."""
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return Removed(0, 0)
    now = now or utcnow()
    needles = _needles(session, ids)
    events = stores.delete_tracker_events(session, ids)
    conversations = _table(Conversation)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stores.delete_rows(session, _table(Message), Message.conversation_id.in_(chunk))
        session.execute(
            update(Handoff)
            .where(Handoff.conversation_id.in_(chunk))
            .values(summary="", last_messages=[], place_name=None)
        )
        for child, fk_column, _referred in stores._children(conversations):
            if child.name in ("messages", "handoffs"):
                continue
            if child.name in KEPT_ON_SWEEP:
                blank = dict.fromkeys(KEPT_ON_SWEEP[child.name])
                session.execute(
                    update(child).where(fk_column.in_(chunk)).values(**blank)
                )
            else:
                stores.delete_rows(session, child, fk_column.in_(chunk))
        session.execute(
            update(Conversation)
            .where(Conversation.id.in_(chunk))
            .values(
                channel_user_id=None,
                place_name=None,
                contact_email=None,
                anonymised_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    audit.record(session, action=audit.SWEPT, actor=by, conversations=len(ids), at=now)
    _after_commit(session, _clean_up(session, needles))
    log.info("privacy: anonymised %d conversation(s)", len(ids))
    return Removed(len(ids), events)


def erase_conversation(
    target: Session | str | None, conversation_id: str, *, by: str = "person"
) -> bool:
    """Erase one conversation from every store; False if there was none.

    ``target`` is an open session (the erasure joins its transaction and is
    done when it commits), a database URL, or None for the configured
    database (committed here). For the widget's "Delete this conversation"
    and Telegram's /delete (``by="person"``).
    """
    how = "by the person" if by == "person" else "by conversation id"
    if isinstance(target, Session):
        if target.get(Conversation, conversation_id) is None:
            return False
        erase_conversations(target, [conversation_id], by=by, how=how)
        return True
    with session_scope(target) as session:
        if session.get(Conversation, conversation_id) is None:
            return False
        erase_conversations(session, [conversation_id], by=by, how=how)
    return True
