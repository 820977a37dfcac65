"""Operators' edits to organisations: a recorded, reversible layer over the data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    LadCodeChange,
    LocalAuthority,
    Nation,
    Organisation,
    OrganisationArea,
    OrganisationEdit,
    OrganisationOverride,
)

# The fields operators may change; "lad_codes" stands for the council areas.
FIELDS = (
    "name",
    "kind",
    "website",
    "phone",
    "email",
    "lad_codes",
    "active",
    "successor_id",
    "closed_note",
    "confidence",
    "last_verified",
)
KINDS = (
    "CVS",
    "TSI",
    "CVC",
    "volunteer centre",
    "rural community council",
    "community foundation",
    "infrastructure (other)",
    "regional body",
    "national body",
)
CONFIDENCES = ("high", "medium", "low")
STALE_AFTER = timedelta(days=365)  # not verified for 12 months
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{6,20}$")
ADDED_PREFIX = "op"  # ids of organisations the operators added: op0001...


class EditError(ValueError):
    """An edit the directory refuses: names the field and the reason."""


@dataclass(frozen=True)
class Disagreement:
    """Where newly shipped data and an operator's edit differ (the edit wins)."""

    organisation_id: str
    field: str
    shipped_before: Any  # the shipped value when the operator changed it
    shipped_now: Any
    operator_value: Any

    def describe(self) -> str:
        """Return one line for the import report."""
        return (
            f"{self.organisation_id} {self.field}: shipped data now says "
            f"{self.shipped_now!r} (was {self.shipped_before!r}); the operators' "
            f"{self.operator_value!r} is kept"
        )


def _jsonable(field: str, value: Any) -> Any:
    if field == "last_verified" and isinstance(value, date):
        return value.isoformat()
    if field == "lad_codes":
        return sorted(dict.fromkeys(value or []))
    return value


def snapshot(session: Session, organisation_id: str) -> dict[str, Any]:
    """Return the organisation's editable fields as stored now (JSON values)."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise EditError(f"no organisation {organisation_id!r}")
    codes = session.scalars(
        select(OrganisationArea.lad_code).where(
            OrganisationArea.organisation_id == organisation_id
        )
    ).all()
    out = {f: _jsonable(f, getattr(org, f)) for f in FIELDS if f != "lad_codes"}
    out["lad_codes"] = _jsonable("lad_codes", codes)
    return out


def current_codes(session: Session, codes: list[str]) -> list[str]:
    """Map superseded council codes to their successors (others unchanged)."""
    changes: dict[str, str] = {
        old: new
        for old, new in session.execute(
            select(LadCodeChange.old_code, LadCodeChange.current_code).where(
                LadCodeChange.old_code.in_(codes)
            )
        )
    }
    return [changes.get(c, c) for c in codes]


def _clean(session: Session, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise submitted values; raise EditError on a bad one."""
    out: dict[str, Any] = {}
    for field, raw in changes.items():
        if field not in FIELDS:
            raise EditError(f"{field} cannot be edited")
        value = raw.strip() if isinstance(raw, str) else raw
        if value == "" and field not in ("name", "kind", "confidence"):
            value = None
        if field == "name" and not value:
            raise EditError("name: an organisation needs a name")
        if field == "kind" and value not in KINDS:
            raise EditError(f"kind: one of {', '.join(KINDS)}")
        if field == "confidence" and value not in CONFIDENCES:
            raise EditError("confidence: high, medium or low")
        if field == "website" and value and not URL_RE.match(value):
            raise EditError("website: a full address starting http:// or https://")
        if field == "email" and value and not EMAIL_RE.match(value):
            raise EditError("email: not an email address")
        if field == "phone" and value and not PHONE_RE.match(value):
            raise EditError("phone: digits, spaces and brackets only")
        if field == "active":
            value = bool(value)
        if field == "last_verified" and value is not None:
            try:
                value = (
                    value
                    if isinstance(value, date)
                    else date.fromisoformat(str(value))
                ).isoformat()
            except ValueError:
                raise EditError("last verified: a date, YYYY-MM-DD") from None
        if field == "successor_id" and value:
            if session.get(Organisation, value) is None:
                raise EditError(f"successor: no organisation {value!r}")
        if field == "lad_codes":
            codes = [c.strip().upper() for c in (value or []) if c and c.strip()]
            codes = current_codes(session, codes)
            known = set(
                session.scalars(
                    select(LocalAuthority.code).where(LocalAuthority.code.in_(codes))
                )
            )
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise EditError(f"council areas: unknown code(s) {', '.join(unknown)}")
            if not codes:
                raise EditError("council areas: an organisation covers at least one")
            value = sorted(dict.fromkeys(codes))
        out[field] = value
    return out


def _write(session: Session, organisation_id: str, values: dict[str, Any]) -> None:
    """Store ``values`` on the organisation row and its areas."""
    row: dict[str, Any] = {}
    for field, value in values.items():
        if field == "lad_codes":
            continue
        if field == "last_verified" and value is not None:
            value = date.fromisoformat(value)
        row[field] = value
    org = session.get(Organisation, organisation_id)
    assert org is not None
    for field, value in row.items():
        setattr(org, field, value)
    if "lad_codes" in values:
        session.execute(
            delete(OrganisationArea).where(
                OrganisationArea.organisation_id == organisation_id
            )
        )
        session.execute(
            insert(OrganisationArea),
            [
                {"organisation_id": organisation_id, "lad_code": c}
                for c in values["lad_codes"]
            ],
        )
    session.flush()


def edit_organisation(
    session: Session,
    *,
    organisation_id: str,
    actor: str,
    changes: dict[str, Any],
    action: str = "edit",
    reverts_id: int | None = None,
) -> OrganisationEdit | None:
    """Change an organisation's fields, record it; None when nothing changed."""
    before = snapshot(session, organisation_id)
    cleaned = _clean(session, changes)
    changed = {f: v for f, v in cleaned.items() if before.get(f) != v}
    if not changed:
        return None
    override = session.get(OrganisationOverride, organisation_id)
    if override is None:
        override = OrganisationOverride(
            organisation_id=organisation_id,
            values={},
            shipped={},
            added=False,
            updated_by=actor,
        )
        session.add(override)
    values = dict(override.values or {})
    shipped = dict(override.shipped or {})
    for field, value in changed.items():
        if not override.added and field not in values:
            shipped[field] = before[field]
        if not override.added and field in shipped and shipped[field] == value:
            values.pop(field, None)  # back to the shipped value: no layer left
            shipped.pop(field, None)
        else:
            values[field] = value
    override.values, override.shipped = values, shipped
    override.updated_at, override.updated_by = utcnow(), actor
    _write(session, organisation_id, changed)
    edit = OrganisationEdit(
        organisation_id=organisation_id,
        actor=actor,
        at=utcnow(),
        action=action,
        before={f: before[f] for f in changed},
        after=changed,
        reverts_id=reverts_id,
    )
    session.add(edit)
    session.flush()
    return edit


def add_organisation(
    session: Session, *, actor: str, fields: dict[str, Any], nation: Nation
) -> str:
    """Add an organisation the shipped data lacks; return its new id."""
    values = _clean(session, {"active": True, **fields})
    for required in ("name", "kind", "lad_codes", "confidence"):
        if not values.get(required):
            raise EditError(f"{required.replace('_', ' ')}: required")
    taken = session.scalar(
        select(func.count()).select_from(OrganisationOverride).where(
            OrganisationOverride.added.is_(True)
        )
    )
    number = (taken or 0) + 1
    while session.get(Organisation, f"{ADDED_PREFIX}{number:04d}") is not None:
        number += 1
    oid = f"{ADDED_PREFIX}{number:04d}"
    session.add(
        Organisation(
            id=oid,
            name=values["name"],
            kind=values["kind"],
            is_national=False,
            nation=nation,
            confidence=values["confidence"],
            active=True,
        )
    )
    session.flush()
    _write(session, oid, values)
    full = snapshot(session, oid)
    session.add(
        OrganisationOverride(
            organisation_id=oid,
            values={**full, "nation": nation.value},
            shipped={},
            added=True,
            updated_by=actor,
        )
    )
    session.add(
        OrganisationEdit(
            organisation_id=oid, actor=actor, at=utcnow(), action="add", after=full
        )
    )
    session.flush()
    return oid


def close_organisation(
    session: Session,
    *,
    organisation_id: str,
    actor: str,
    successor_id: str | None,
    note: str | None = None,
) -> OrganisationEdit | None:
    """Mark an organisation closed, naming who the directory has instead."""
    if successor_id == organisation_id:
        raise EditError("successor: an organisation cannot succeed itself")
    changes: dict[str, Any] = {"active": False, "successor_id": successor_id}
    if note is not None:
        changes["closed_note"] = note
    return edit_organisation(
        session,
        organisation_id=organisation_id,
        actor=actor,
        changes=changes,
        action="close",
    )


def revert_edit(session: Session, *, edit_id: int, actor: str) -> OrganisationEdit:
    """Undo one recorded change (an added organisation is made inactive)."""
    edit = session.get(OrganisationEdit, edit_id)
    if edit is None:
        raise EditError(f"no change {edit_id}")
    if edit.reverted_by_id is not None:
        raise EditError(f"change {edit_id} was already undone")
    changes = {"active": False} if edit.action == "add" else dict(edit.before)
    undo = edit_organisation(
        session,
        organisation_id=edit.organisation_id,
        actor=actor,
        changes=changes,
        action="revert",
        reverts_id=edit.id,
    )
    if undo is None:  # the values are already back: record the undo anyway
        undo = OrganisationEdit(
            organisation_id=edit.organisation_id,
            actor=actor,
            at=utcnow(),
            action="revert",
            before={},
            after={},
            reverts_id=edit.id,
        )
        session.add(undo)
        session.flush()
    edit.reverted_by_id = undo.id
    session.flush()
    return undo


def history(session: Session, *, organisation_id: str) -> list[OrganisationEdit]:
    """Return every recorded change to an organisation, newest first."""
    return list(
        session.scalars(
            select(OrganisationEdit)
            .where(OrganisationEdit.organisation_id == organisation_id)
            .order_by(OrganisationEdit.id.desc())
        )
    )


def added_organisation_ids(session: Session) -> set[str]:
    """Return the ids of organisations the operators added."""
    return set(
        session.scalars(
            select(OrganisationOverride.organisation_id).where(
                OrganisationOverride.added.is_(True)
            )
        )
    )


def apply_overrides(
    session: Session,
    shipped: list[dict[str, Any]],
    shipped_areas: list[dict[str, str]],
) -> list[Disagreement]:
    """Lay every operator edit over freshly imported rows; report disagreements."""
    by_id = {o["id"]: o for o in shipped}
    areas: dict[str, list[str]] = {}
    for a in shipped_areas:
        areas.setdefault(a["organisation_id"], []).append(a["lad_code"])
    out: list[Disagreement] = []
    for override in session.scalars(
        select(OrganisationOverride).order_by(OrganisationOverride.organisation_id)
    ):
        oid = override.organisation_id
        values = dict(override.values or {})
        if override.added:
            values.pop("nation", None)
            values["lad_codes"] = current_codes(session, values.get("lad_codes", []))
            _write(session, oid, values)
            continue
        row = by_id.get(oid)
        if row is None:
            out.append(Disagreement(oid, "organisation", "shipped", None, values))
            continue
        now = {f: _jsonable(f, row.get(f)) for f in values if f != "lad_codes"}
        if "lad_codes" in values:
            now["lad_codes"] = _jsonable("lad_codes", areas.get(oid, []))
            values["lad_codes"] = current_codes(session, values["lad_codes"])
        for field, value in values.items():
            then = (override.shipped or {}).get(field)
            if now[field] != then and now[field] != value:
                out.append(Disagreement(oid, field, then, now[field], value))
        _write(session, oid, values)
    return out


def is_stale(last_verified: date | None, today: date | None = None) -> bool:
    """Return True when an entry was not verified in the last 12 months."""
    today = today or utcnow().date()
    return last_verified is None or today - last_verified > STALE_AFTER


def search_organisations(
    session: Session, *, query: str = "", limit: int = 50
) -> list[Organisation]:
    """Return organisations whose id, name, website or council area matches."""
    stmt = select(Organisation).order_by(Organisation.name).limit(limit)
    q = query.strip()
    if q:
        like = f"%{q.lower()}%"
        in_area = (
            select(OrganisationArea.organisation_id)
            .join(LocalAuthority, LocalAuthority.code == OrganisationArea.lad_code)
            .where(
                func.lower(LocalAuthority.name).like(like)
                | (LocalAuthority.code == q.upper())
            )
        )
        stmt = stmt.where(
            func.lower(Organisation.name).like(like)
            | func.lower(Organisation.id).like(like)
            | func.lower(func.coalesce(Organisation.website, "")).like(like)
            | Organisation.id.in_(in_area)
        )
    return list(session.scalars(stmt))
