"""Who may see which conversation: the one place the console's scoping lives.

An adviser belongs to organisations with a role (``adviser_memberships``). A
conversation is *routed* to the organisations that cover its council area
(local and regional bodies from the directory, plus the one the bot referred
it to); where none does, to the national fallback body of the area's nation
(``bot.directory.service.NATIONAL_FALLBACK_IDS``), and with no area at all to
every national fallback body. An adviser sees the conversations routed to any
of their organisations; a ``national`` role sees every area. No membership at
all sees nothing (fails closed).

Every console route goes through this module: ``visible()`` is the SQL filter
for lists (queue, reports), ``can_see()`` the check for one conversation (the
console's route guard answers 404 when it fails, whatever the URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from bot.db.models import (
    Adviser,
    AdviserMembership,
    AdviserRole,
    Conversation,
    LadCodeChange,
    LocalAuthority,
    Nation,
    Organisation,
    OrganisationArea,
)
from bot.directory.service import NATIONAL_FALLBACK_IDS, current_lad_code


@dataclass(frozen=True)
class Scope:
    """What one adviser may see and manage."""

    adviser_id: int
    everything: bool = False  # a national role
    organisation_ids: frozenset[str] = frozenset()
    admin_of: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        """Whether the adviser may read the audit log (admins and national)."""
        return self.everything or bool(self.admin_of)


def scope_for(session: Session, adviser: Adviser | int) -> Scope:
    """Return the scope of ``adviser`` from their memberships."""
    adviser_id = adviser if isinstance(adviser, int) else adviser.id
    rows = session.execute(
        select(AdviserMembership.organisation_id, AdviserMembership.role).where(
            AdviserMembership.adviser_id == adviser_id
        )
    ).tuples()
    everything = False
    orgs: set[str] = set()
    admin: set[str] = set()
    for organisation_id, role in rows:
        if role is AdviserRole.NATIONAL:
            everything = True
        if organisation_id:
            orgs.add(organisation_id)
            if role is AdviserRole.ADMIN:
                admin.add(organisation_id)
    return Scope(adviser_id, everything, frozenset(orgs), frozenset(admin))


def _fallback_nations(organisation_ids: frozenset[str]) -> set[Nation]:
    return {
        nation
        for nation, ids in NATIONAL_FALLBACK_IDS.items()
        if organisation_ids.intersection(ids)
    }


def _area(lad_code: Any = Conversation.lad_code) -> ColumnElement[Any]:
    """A council code as its successor if it was superseded (the directory's
    areas use the current codes: issue 14's code history), else itself."""
    successor = (
        select(LadCodeChange.current_code)
        .where(LadCodeChange.old_code == lad_code)
        .scalar_subquery()
    )
    return func.coalesce(successor, lad_code)


def _covered_by_local(lad_code: Any = Conversation.lad_code) -> ColumnElement[bool]:
    """The conversation's area is covered by an active local or regional body."""
    return exists(
        select(OrganisationArea.lad_code)
        .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
        .where(
            OrganisationArea.lad_code == lad_code,
            Organisation.active.is_(True),
            Organisation.is_national.is_(False),
        )
    )


def visible(
    scope: Scope,
    *,
    lad_code: Any = Conversation.lad_code,
    organisation_id: Any = Conversation.organisation_id,
) -> ColumnElement[bool]:
    """Return the SQL condition on ``Conversation`` for what ``scope`` may see.

    The same rule on another table's columns (the reports' anonymous facts,
    which outlive their conversations) by passing them as ``lad_code`` and
    ``organisation_id``.
    """
    if scope.everything:
        return true()
    if not scope.organisation_ids:
        return false()
    orgs = sorted(scope.organisation_ids)
    area = _area(lad_code)
    covered = (
        select(OrganisationArea.lad_code)
        .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
        .where(
            OrganisationArea.organisation_id.in_(orgs),
            Organisation.is_national.is_(False),
        )
    )
    terms: list[ColumnElement[bool]] = [
        organisation_id.in_(orgs),
        area.in_(covered),
    ]
    nations = _fallback_nations(scope.organisation_ids)
    if nations:
        in_nations = select(LocalAuthority.code).where(
            LocalAuthority.nation.in_(sorted(nations))
        )
        terms.append(
            and_(
                ~_covered_by_local(area),
                or_(
                    lad_code.is_(None),
                    area.in_(in_nations),
                ),
            )
        )
    return or_(*terms)


def can_see(session: Session, scope: Scope, conversation_id: str) -> bool:
    """Return whether the conversation exists and ``scope`` may see it."""
    found = session.scalar(
        select(Conversation.id).where(
            Conversation.id == conversation_id, visible(scope)
        )
    )
    return found is not None


def routed_organisations(session: Session, conversation: Conversation) -> list[str]:
    """Return the ids of the organisations ``conversation`` is routed to (the same
    rule as ``visible()``, for one conversation)."""
    found: set[str] = set()
    if conversation.organisation_id:
        found.add(conversation.organisation_id)
    local: list[str] = []
    nations = list(NATIONAL_FALLBACK_IDS)
    if conversation.lad_code:
        area = current_lad_code(session, conversation.lad_code)
        local = list(
            session.scalars(
                select(OrganisationArea.organisation_id)
                .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
                .where(
                    OrganisationArea.lad_code == area,
                    Organisation.active.is_(True),
                    Organisation.is_national.is_(False),
                )
            )
        )
        lad = session.get(LocalAuthority, area)
        nations = [lad.nation] if lad else []
    found.update(local)
    if not local:
        found.update(i for n in nations for i in NATIONAL_FALLBACK_IDS[n])
    return sorted(found)


def advisers_managed_by(scope: Scope) -> ColumnElement[bool]:
    """Return the SQL condition on ``Adviser`` for whom ``scope`` administers."""
    if scope.everything:
        return true()
    if not scope.admin_of:
        return Adviser.id == scope.adviser_id
    return Adviser.id.in_(
        select(AdviserMembership.adviser_id).where(
            AdviserMembership.organisation_id.in_(sorted(scope.admin_of))
        )
    )


def add_membership(
    session: Session,
    *,
    adviser_id: int,
    organisation_id: str | None,
    role: AdviserRole,
) -> AdviserMembership:
    """Give an adviser a role in an organisation (or a national role), flushed.

    A second call for the same organisation changes the role.
    """
    query = select(AdviserMembership).where(AdviserMembership.adviser_id == adviser_id)
    query = query.where(
        AdviserMembership.organisation_id == organisation_id
        if organisation_id
        else AdviserMembership.organisation_id.is_(None)
    )
    row = session.scalar(query)
    if row is None:
        row = AdviserMembership(
            adviser_id=adviser_id, organisation_id=organisation_id, role=role
        )
        session.add(row)
    else:
        row.role = role
    session.flush()
    return row


def memberships_of(session: Session, *, adviser_id: int) -> list[AdviserMembership]:
    """Return an adviser's memberships, by organisation."""
    return list(
        session.scalars(
            select(AdviserMembership)
            .where(AdviserMembership.adviser_id == adviser_id)
            .order_by(AdviserMembership.organisation_id)
        )
    )


def may_manage(scope: Scope, organisation_id: str | None) -> bool:
    """Return whether ``scope`` manages the advisers of ``organisation_id``
    (a national role: every organisation, and the national memberships)."""
    if scope.everything:
        return True
    return organisation_id is not None and organisation_id in scope.admin_of


def grantable_roles(scope: Scope) -> list[AdviserRole]:
    """Return the roles ``scope`` may give (``national`` only by a national role)."""
    if scope.everything:
        return [AdviserRole.ADVISER, AdviserRole.ADMIN, AdviserRole.NATIONAL]
    if scope.admin_of:
        return [AdviserRole.ADVISER, AdviserRole.ADMIN]
    return []
