"""The advisers an admin manages: who is in their organisations, adding one,
changing a role and removing one, each checked against the admin's scope and
written to the audit log (issue 13).

Every function takes the acting adviser's ``access.Scope``: an organisation it
does not manage is ``NotManaged`` (the console answers 404, the same as for an
organisation that does not exist), a role it may not give is ``NotAllowed``
(403), anything else wrong is ``TeamError`` (400).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.db.models import Adviser, AdviserMembership, AdviserRole, Organisation
from bot.db.repositories import access
from bot.db.repositories import advisers as accounts
from bot.privacy import audit

LANGUAGES = ("cy", "en")


class TeamError(ValueError):
    """A change that cannot be made; the message says why, for the page."""


class NotManaged(TeamError):
    """An organisation (or an adviser in it) outside the acting admin's scope."""


class NotAllowed(TeamError):
    """A role the acting admin may not give or take away."""


@dataclass(frozen=True)
class Member:
    """One adviser's place in one organisation, as the advisers page lists it."""

    adviser_id: int
    username: str
    display_name: str
    organisation_id: str | None
    organisation_name: str
    role: AdviserRole
    languages: str
    last_sign_in_at: datetime | None
    active: bool
    must_change_password: bool


def organisations(session: Session, scope: access.Scope) -> list[tuple[str, str]]:
    """Return (id, name) of the organisations ``scope`` manages, by name."""
    query = select(Organisation.id, Organisation.name).order_by(
        Organisation.name, Organisation.id
    )
    if not scope.everything:
        if not scope.admin_of:
            return []
        query = query.where(Organisation.id.in_(sorted(scope.admin_of)))
    else:
        query = query.where(Organisation.active.is_(True))
    return [(i, n) for i, n in session.execute(query).tuples()]


def members(session: Session, scope: access.Scope) -> list[Member]:
    """Return the memberships ``scope`` manages, by organisation then username."""
    if not scope.everything and not scope.admin_of:
        return []
    query = (
        select(AdviserMembership, Adviser, Organisation.name)
        .join(Adviser, Adviser.id == AdviserMembership.adviser_id)
        .outerjoin(Organisation, Organisation.id == AdviserMembership.organisation_id)
    )
    if not scope.everything:
        query = query.where(
            AdviserMembership.organisation_id.in_(sorted(scope.admin_of))
        )
    rows = session.execute(query).tuples()
    found = [
        Member(
            adviser_id=adviser.id,
            username=adviser.username,
            display_name=adviser.display_name,
            organisation_id=m.organisation_id,
            organisation_name=name or "Every area",
            role=m.role,
            languages=adviser.languages,
            last_sign_in_at=adviser.last_sign_in_at,
            active=adviser.active,
            must_change_password=adviser.must_change_password,
        )
        for m, adviser, name in rows
    ]
    found.sort(
        key=lambda m: (
            m.organisation_id is not None,
            m.organisation_name,
            m.organisation_id or "",
            m.username,
        )
    )
    return found


def _check_organisation(
    session: Session, scope: access.Scope, organisation_id: str | None
) -> None:
    if not access.may_manage(scope, organisation_id):
        raise NotManaged("not one of your organisations")
    if (
        organisation_id is not None
        and session.get(Organisation, organisation_id) is None
    ):
        raise NotManaged("no such organisation")


def _check_role(scope: access.Scope, role: AdviserRole) -> None:
    if role not in access.grantable_roles(scope):
        raise NotAllowed(f"you cannot give the role {role.value}")


def _membership(
    session: Session, *, adviser_id: int, organisation_id: str | None
) -> AdviserMembership | None:
    query = select(AdviserMembership).where(AdviserMembership.adviser_id == adviser_id)
    return session.scalar(
        query.where(
            AdviserMembership.organisation_id == organisation_id
            if organisation_id is not None
            else AdviserMembership.organisation_id.is_(None)
        )
    )


def _record(
    session: Session,
    actor: Adviser,
    action: str,
    organisation_id: str | None,
    detail: str,
) -> None:
    audit.record(
        session,
        action=action,
        actor=actor.username,
        adviser_id=actor.id,
        organisation_id=organisation_id,
        detail=detail,
    )


def clean_languages(values: list[str]) -> str:
    """Return the languages an adviser answers in as "cy,en" (English if none)."""
    chosen = sorted({v for v in values if v in LANGUAGES})
    return ",".join(chosen) or "en"


def add_member(
    session: Session,
    scope: access.Scope,
    actor: Adviser,
    *,
    username: str,
    organisation_id: str,
    role: AdviserRole,
    display_name: str = "",
    languages: str = "en",
    password_hash: str | None = None,
) -> tuple[Adviser, bool]:
    """Put ``username`` in ``organisation_id`` with ``role``; return the adviser
    and whether the account is new.

    An unknown username becomes a new account (it needs ``display_name`` and
    ``password_hash``, an initial password that must be changed at the first
    sign-in); a known one gets the membership only.
    """
    _check_organisation(session, scope, organisation_id)
    _check_role(scope, role)
    existing = accounts.find_adviser(session, username=username)
    if existing is None:
        if not display_name:
            raise TeamError("a new adviser needs a name")
        if password_hash is None:
            raise TeamError("a new adviser needs an initial password")
        adviser = accounts.create_adviser(
            session,
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            organisation_id=organisation_id,
            role=role,
            languages=languages,
        )
        adviser.must_change_password = True
        _record(
            session,
            actor,
            audit.ADVISER_ADDED,
            organisation_id,
            f"{username} as {role.value} (new account)",
        )
        return adviser, True
    if _membership(session, adviser_id=existing.id, organisation_id=organisation_id):
        raise TeamError(f"{username} is already in this organisation")
    access.add_membership(
        session, adviser_id=existing.id, organisation_id=organisation_id, role=role
    )
    if existing.organisation_id is None:
        existing.organisation_id = organisation_id
    _record(
        session,
        actor,
        audit.ADVISER_ADDED,
        organisation_id,
        f"{username} as {role.value}",
    )
    return existing, False


def _managed_membership(
    session: Session,
    scope: access.Scope,
    actor: Adviser,
    *,
    adviser_id: int,
    organisation_id: str | None,
) -> tuple[Adviser, AdviserMembership]:
    _check_organisation(session, scope, organisation_id)
    adviser = session.get(Adviser, adviser_id)
    row = (
        _membership(session, adviser_id=adviser_id, organisation_id=organisation_id)
        if adviser is not None
        else None
    )
    if adviser is None or row is None:
        raise NotManaged("no such adviser in this organisation")
    if adviser.id == actor.id:
        raise TeamError(
            "you cannot change your own role: ask another admin of your organisation"
        )
    if row.role is AdviserRole.NATIONAL and not scope.everything:
        raise NotAllowed("only a national adviser can change a national role")
    return adviser, row


def change_role(
    session: Session,
    scope: access.Scope,
    actor: Adviser,
    *,
    adviser_id: int,
    organisation_id: str | None,
    role: AdviserRole,
) -> bool:
    """Change an adviser's role in one organisation; return whether it changed."""
    adviser, row = _managed_membership(
        session, scope, actor, adviser_id=adviser_id, organisation_id=organisation_id
    )
    _check_role(scope, role)
    if row.role is role:
        return False
    before = row.role
    row.role = role
    session.flush()
    _record(
        session,
        actor,
        audit.ROLE_CHANGED,
        organisation_id,
        f"{adviser.username}: {before.value} to {role.value}",
    )
    return True


def remove_member(
    session: Session,
    scope: access.Scope,
    actor: Adviser,
    *,
    adviser_id: int,
    organisation_id: str | None,
) -> None:
    """Take an adviser out of one organisation (their account stays; with no
    organisation left they see no conversation, and their sessions end)."""
    adviser, row = _managed_membership(
        session, scope, actor, adviser_id=adviser_id, organisation_id=organisation_id
    )
    session.execute(delete(AdviserMembership).where(AdviserMembership.id == row.id))
    left = access.memberships_of(session, adviser_id=adviser.id)
    if adviser.organisation_id == organisation_id:
        adviser.organisation_id = next(
            (m.organisation_id for m in left if m.organisation_id), None
        )
    if not left:
        accounts.delete_sessions_of(session, adviser_id=adviser.id)
    _record(
        session,
        actor,
        audit.ADVISER_REMOVED,
        organisation_id,
        f"{adviser.username} (was {row.role.value})",
    )
