"""Directory look-ups: who covers a LAD, which guidance fits, how complete we are."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import (
    LadCodeChange,
    LocalAuthority,
    Nation,
    Organisation,
    OrganisationArea,
    Resource,
)

# Who to fall back to in each nation when no local organisation is on record.
NATIONAL_FALLBACK_IDS: dict[Nation, tuple[str, ...]] = {
    Nation.ENGLAND: ("lio002", "lio001"),  # NAVCA (finds a local member), NCVO
    Nation.WALES: ("lio004",),  # WCVA
    Nation.SCOTLAND: ("lio005",),  # SCVO
    Nation.NORTHERN_IRELAND: ("lio006",),  # NICVA
}

CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


def scope_of(*, is_national: bool, kind: str) -> str:
    """Return an organisation's reach: national, regional or local."""
    if is_national:
        return "national"
    return "regional" if kind == "regional body" else "local"


@dataclass(frozen=True)
class OrganisationInfo:
    """What the assistant may say about an organisation: all from the directory."""

    id: str
    name: str
    kind: str
    website: str | None
    email: str | None
    phone: str | None
    confidence: str
    notes: str | None
    scope: str  # local, regional or national
    last_verified: date | None = None
    active: bool = True
    closed_note: str | None = None  # "in 2016", "announced for March 2017"
    successor_id: str | None = None

    @classmethod
    def from_model(cls, org: Organisation) -> OrganisationInfo:
        scope = scope_of(is_national=org.is_national, kind=org.kind)
        return cls(
            id=org.id,
            name=org.name,
            kind=org.kind,
            website=org.website,
            email=org.email,
            phone=org.phone,
            confidence=org.confidence,
            notes=org.notes,
            scope=scope,
            last_verified=org.last_verified,
            active=org.active,
            closed_note=org.closed_note,
            successor_id=org.successor_id,
        )


@dataclass(frozen=True)
class AreaOrganisations:
    """The organisations for one LAD, local first; `is_fallback` if none is local."""

    lad_code: str
    lad_name: str
    nation: Nation
    county_name: str | None
    local: list[OrganisationInfo] = field(default_factory=list)
    regional: list[OrganisationInfo] = field(default_factory=list)
    national: list[OrganisationInfo] = field(default_factory=list)
    # local organisations the data records as closed, each with its successor
    closed: list[tuple[OrganisationInfo, OrganisationInfo | None]] = field(
        default_factory=list
    )

    @property
    def is_fallback(self) -> bool:
        return not self.local

    @property
    def recommended(self) -> list[OrganisationInfo]:
        """Local bodies if we have any, else regional then national ones."""
        if self.local:
            return self.local
        return self.regional + self.national


def organisations_for_lad(
    session: Session, *, lad_code: str
) -> AreaOrganisations | None:
    """Return who covers ``lad_code``, with the national body as honest fallback.

    A superseded council code is read as its successor.
    """
    lad_code = current_lad_code(session, lad_code)
    authority = session.get(LocalAuthority, lad_code)
    if authority is None:
        return None
    every = session.scalars(
        select(Organisation)
        .join(OrganisationArea, OrganisationArea.organisation_id == Organisation.id)
        .where(OrganisationArea.lad_code == lad_code)
    ).all()
    orgs = [o for o in every if o.active]
    infos = sorted(
        (OrganisationInfo.from_model(o) for o in orgs),
        key=lambda o: (CONFIDENCE_RANK.get(o.confidence, 3), o.website is None, o.name),
    )
    closed: list[tuple[OrganisationInfo, OrganisationInfo | None]] = []
    for org in sorted(
        (o for o in every if not o.active and not o.is_national), key=lambda o: o.id
    ):
        successor = session.get(Organisation, org.successor_id or "")
        closed.append(
            (
                OrganisationInfo.from_model(org),
                OrganisationInfo.from_model(successor)
                if successor is not None and successor.active
                else None,
            )
        )
    wanted = NATIONAL_FALLBACK_IDS[authority.nation]
    national = [o for o in infos if o.scope == "national" and o.id in wanted]
    national.sort(key=lambda o: wanted.index(o.id))
    return AreaOrganisations(
        lad_code=authority.code,
        lad_name=authority.name,
        nation=authority.nation,
        county_name=authority.county_name,
        local=[o for o in infos if o.scope == "local"],
        regional=[o for o in infos if o.scope == "regional"],
        national=national,
        closed=closed,
    )


def current_lad_code(session: Session, code: str) -> str:
    """Return the current council code for ``code`` (itself unless superseded)."""
    code = code.strip().upper()
    successor = session.scalar(
        select(LadCodeChange.current_code).where(LadCodeChange.old_code == code)
    )
    return successor or code


def areas_without_local(session: Session) -> list[LocalAuthority]:
    """Return the council areas with no active local organisation, by nation."""
    with_local = set()
    for lad, is_national, kind in session.execute(
        select(OrganisationArea.lad_code, Organisation.is_national, Organisation.kind)
        .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
        .where(Organisation.active.is_(True))
    ):
        if scope_of(is_national=is_national, kind=kind) == "local":
            with_local.add(lad)
    return [
        la
        for la in session.scalars(
            select(LocalAuthority).order_by(LocalAuthority.nation, LocalAuthority.name)
        )
        if la.code not in with_local
    ]


def national_bodies(
    session: Session, *, nation: Nation | None = None
) -> list[OrganisationInfo]:
    """Return the national fallback bodies (of one nation, or of all four)."""
    nations = [nation] if nation else list(NATIONAL_FALLBACK_IDS)
    ids = [i for n in nations for i in NATIONAL_FALLBACK_IDS[n]]
    orgs = {
        o.id: o
        for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))
    }
    return [OrganisationInfo.from_model(orgs[i]) for i in ids if i in orgs]


def resources_for(
    session: Session,
    *,
    topic: str,
    subtopic: str | None = None,
    nation: Nation | str | None = None,
    limit: int = 3,
) -> list[Resource]:
    """Return up to ``limit`` guidance pages for a topic/subtopic in a nation.

    Pages filed under the subtopic come first, then the topic's general pages.
    With no nation known, only pages that apply UK-wide or say which nation they
    are for are returned (the caller names the nation beside each).
    """
    rows = session.scalars(select(Resource).order_by(Resource.id)).all()
    nation_value = nation.value if isinstance(nation, Nation) else nation

    def applies(res: Resource) -> bool:
        return nation_value is None or nation_value in res.nations

    specific = f"{topic}/{subtopic}" if subtopic else None
    chosen = [r for r in rows if specific and specific in r.tags and applies(r)]
    if len(chosen) < limit:
        general = [
            r
            for r in rows
            if f"{topic}/general" in r.tags and applies(r) and r not in chosen
        ]
        chosen.extend(general)
    return chosen[:limit]


@dataclass(frozen=True)
class Guidance:
    """Pages for a question: those filed under its subtopic, else the topic's."""

    specific: list[Resource]
    general: list[Resource]

    @property
    def pages(self) -> list[Resource]:
        """Return the pages to show (specific ones when there are any)."""
        return self.specific or self.general


def _own_subtopic(res: Resource, topic: str, subtopic: str) -> int:
    """0 when the page is about exactly this subtopic, else its tag's position."""
    tag = f"{topic}/{subtopic}"
    if res.source_subtopic.strip().lower().replace(" ", "_") == subtopic:
        return 0
    return 1 + res.tags.index(tag) if tag in res.tags else 99


def guidance_for(
    session: Session,
    *,
    topic: str,
    subtopic: str | None = None,
    nation: Nation | str | None = None,
    limit: int = 3,
) -> Guidance:
    """Return the guidance for a question: its subtopic's pages, best first.

    A page about exactly the subtopic (the annual-return page for an annual
    return) comes before one that only touches it, and a page for the nation
    before a UK-wide one. When the subtopic has no page in the nation, the
    topic's general pages are returned separately, so the reply can say so.
    """
    rows = session.scalars(select(Resource).order_by(Resource.id)).all()
    nation_value = nation.value if isinstance(nation, Nation) else nation

    def applies(res: Resource) -> bool:
        return nation_value is None or nation_value in res.nations

    specific: list[Resource] = []
    if subtopic and subtopic != "general":
        tag = f"{topic}/{subtopic}"
        specific = sorted(
            (r for r in rows if tag in r.tags and applies(r)),
            key=lambda r: (_own_subtopic(r, topic, subtopic), len(r.nations), r.id),
        )[:limit]
    general = [r for r in rows if f"{topic}/general" in r.tags and applies(r)]
    general.sort(key=lambda r: (len(r.nations), r.id))
    return Guidance(specific=specific, general=general[:limit] if not specific else [])


@dataclass(frozen=True)
class NationCoverage:
    nation: Nation
    lads: int
    with_local: int
    regional_only: int
    fallback_only: int


def coverage(session: Session) -> list[NationCoverage]:
    """Count per nation the LADs with a local LIO and those with a fallback only."""
    scope_by_lad: dict[str, set[str]] = {}
    for lad, is_national, kind in session.execute(
        select(OrganisationArea.lad_code, Organisation.is_national, Organisation.kind)
        .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
        .where(Organisation.active.is_(True))
    ):
        scope = scope_of(is_national=is_national, kind=kind)
        scope_by_lad.setdefault(lad, set()).add(scope)
    counts: Counter[tuple[Nation, str]] = Counter()
    totals: Counter[Nation] = Counter()
    for code, nation in session.execute(
        select(LocalAuthority.code, LocalAuthority.nation)
    ):
        scopes = scope_by_lad.get(code, set())
        kind = (
            "local"
            if "local" in scopes
            else "regional"
            if "regional" in scopes
            else "fallback"
        )
        counts[(nation, kind)] += 1
        totals[nation] += 1
    return [
        NationCoverage(
            nation=n,
            lads=totals[n],
            with_local=counts[(n, "local")],
            regional_only=counts[(n, "regional")],
            fallback_only=counts[(n, "fallback")],
        )
        for n in Nation
    ]
