"""Adviser accounts, their console sessions and failed sign-ins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
    AdviserRole,
    AdviserSession,
    LoginFailure,
    Organisation,
)
from bot.db.repositories import access

# --------------------------------------------------------------------------------
# Advisers
# --------------------------------------------------------------------------------


def create_adviser(
    session: Session,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    organisation_id: str | None = None,
    role: AdviserRole | None = None,
    organisations: Sequence[str] = (),
    languages: str = "en",
) -> Adviser:
    """Add an adviser account (flushed, not committed) with its memberships.

    ``role`` (default ``adviser``) applies to ``organisation_id`` and every id in
    ``organisations``; with none of them the adviser gets a national role
    (every area), as every adviser had before organisations (issue 13).
    ``languages``: the languages they answer in, as "cy,en" (issue 16).
    """
    orgs = list(
        dict.fromkeys([*([organisation_id] if organisation_id else []), *organisations])
    )
    adviser = Adviser(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        organisation_id=orgs[0] if orgs else None,
        active=True,
        languages=languages,
    )
    session.add(adviser)
    session.flush()
    if not orgs:
        access.add_membership(
            session,
            adviser_id=adviser.id,
            organisation_id=None,
            role=AdviserRole.NATIONAL,
        )
    for org in orgs:
        access.add_membership(
            session,
            adviser_id=adviser.id,
            organisation_id=org,
            role=role or AdviserRole.ADVISER,
        )
    return adviser


def find_adviser(session: Session, *, username: str) -> Adviser | None:
    """Return the adviser with ``username``, if any."""
    return session.scalar(select(Adviser).where(Adviser.username == username))


def get_adviser(session: Session, *, adviser_id: int) -> Adviser | None:
    """Return the adviser with ``adviser_id``, if any."""
    return session.get(Adviser, adviser_id)


def list_advisers(session: Session) -> list[Adviser]:
    """Return every adviser account, by username."""
    return list(session.scalars(select(Adviser).order_by(Adviser.username)))


def set_password_hash(session: Session, *, adviser_id: int, password_hash: str) -> None:
    """Replace an adviser's password hash (after a rehash or a reset)."""
    session.execute(
        update(Adviser)
        .where(Adviser.id == adviser_id)
        .values(password_hash=password_hash)
    )


def set_own_password(
    session: Session, *, adviser_id: int, password_hash: str, keep_session: str
) -> None:
    """Store the password an adviser chose (no longer an initial one) and end
    their other sessions."""
    session.execute(
        update(Adviser)
        .where(Adviser.id == adviser_id)
        .values(password_hash=password_hash, must_change_password=False)
    )
    session.execute(
        delete(AdviserSession).where(
            AdviserSession.adviser_id == adviser_id, AdviserSession.id != keep_session
        )
    )


def deactivate_adviser(session: Session, *, username: str) -> bool:
    """Stop an adviser signing in and end their sessions; False if unknown."""
    adviser = find_adviser(session, username=username)
    if adviser is None:
        return False
    adviser.active = False
    delete_sessions_of(session, adviser_id=adviser.id)
    return True


def organisation_exists(session: Session, *, organisation_id: str) -> bool:
    """Return whether the directory holds ``organisation_id``."""
    return session.get(Organisation, organisation_id) is not None


# --------------------------------------------------------------------------------
# Sessions and sign-in failures
# --------------------------------------------------------------------------------


def add_session(
    session: Session,
    *,
    session_id: str,
    adviser_id: int | None,
    csrf_token: str,
    expires_at: datetime,
) -> AdviserSession:
    """Store a console session under the hash of its cookie token."""
    now = utcnow()
    row = AdviserSession(
        id=session_id,
        adviser_id=adviser_id,
        csrf_token=csrf_token,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def load_session(
    session: Session, *, session_id: str, now: datetime
) -> tuple[AdviserSession, Adviser | None] | None:
    """Return a live session and its (active) adviser; None if gone or expired."""
    row = session.get(AdviserSession, session_id)
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        return None
    if row.adviser_id is None:
        return row, None
    adviser = session.get(Adviser, row.adviser_id)
    if adviser is None or not adviser.active:
        session.delete(row)
        return None
    return row, adviser


def touch_session(
    session: Session, *, session_id: str, now: datetime, expires_at: datetime
) -> None:
    """Record activity on a session and move its expiry."""
    session.execute(
        update(AdviserSession)
        .where(AdviserSession.id == session_id)
        .values(last_seen_at=now, expires_at=expires_at)
    )


def delete_session(session: Session, *, session_id: str) -> None:
    """End one session."""
    session.execute(delete(AdviserSession).where(AdviserSession.id == session_id))


def delete_sessions_of(session: Session, *, adviser_id: int) -> None:
    """End every session of one adviser."""
    session.execute(
        delete(AdviserSession).where(AdviserSession.adviser_id == adviser_id)
    )


def purge_expired(
    session: Session, *, now: datetime, failures_before: datetime
) -> None:
    """Delete expired sessions and sign-in failures too old to count."""
    session.execute(delete(AdviserSession).where(AdviserSession.expires_at <= now))
    session.execute(
        delete(LoginFailure).where(LoginFailure.created_at < failures_before)
    )


def count_login_failures(
    session: Session, *, username: str, client_ip: str, since: datetime
) -> int:
    """Count failed sign-ins for ``username`` from ``client_ip`` since ``since``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(
                LoginFailure.username == username,
                LoginFailure.client_ip == client_ip,
                LoginFailure.created_at >= since,
            )
        )
        or 0
    )


def count_failures_from(session: Session, *, client_ip: str, since: datetime) -> int:
    """Count failed sign-ins from ``client_ip`` for any username since ``since``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(
                LoginFailure.client_ip == client_ip, LoginFailure.created_at >= since
            )
        )
        or 0
    )


def record_login_failure(session: Session, *, username: str, client_ip: str) -> None:
    """Remember one failed sign-in."""
    session.add(LoginFailure(username=username, client_ip=client_ip))
    session.flush()


def clear_login_failures(session: Session, *, username: str, client_ip: str) -> None:
    """Forget the failures of ``username`` from ``client_ip`` (after a success)."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == username, LoginFailure.client_ip == client_ip
        )
    )
