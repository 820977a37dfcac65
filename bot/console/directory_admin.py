"""The operators' directory pages: search, edit, add, close, undo, coverage, reports.

For console admins. A national admin may change any organisation and add new
ones; an organisation's admin may change only their own organisations. Every
change goes through bot.directory.edits, which records who, when, before and
after, and keeps it as a layer that survives a re-import of the shipped data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import adviser_of, base_path, guard, run_db, scope_of
from bot.console.views import error_page, render, see_other
from bot.db.models import (
    DirectoryReport,
    LocalAuthority,
    Nation,
    Organisation,
    OrganisationArea,
    OrganisationEdit,
    OrganisationOverride,
)
from bot.db.repositories.access import Scope
from bot.directory import edits, reports
from bot.directory.service import areas_without_local

NOTICES = {
    "saved": "Saved. The change is recorded and can be undone below.",
    "unchanged": "Nothing changed.",
    "added": "Organisation added.",
    "closed": "Marked closed.",
    "undone": "Change undone.",
    "resolved": "Report marked as dealt with.",
}
FIELD_LABELS = {
    "name": "Name",
    "kind": "Kind",
    "website": "Website",
    "phone": "Phone",
    "email": "Email",
    "lad_codes": "Council areas",
    "active": "Active",
    "successor_id": "Successor",
    "closed_note": "Closed (when)",
    "confidence": "Confidence",
    "last_verified": "Last verified",
}


@dataclass(frozen=True)
class Row:
    """One organisation in a list, with its flags."""

    org: Organisation
    areas: list[str]
    stale: bool
    edited: bool


def _denied(request: Request, what: str = "change the directory") -> Response:
    return error_page(
        request,
        403,
        "Admins only",
        f"Only your organisation's console admins can {what}.",
        back=base_path(request) + "/directory",
    )


def _may_edit(scope: Scope, organisation_id: str) -> bool:
    return scope.everything or organisation_id in scope.admin_of


def _url(request: Request, path: str, notice: str = "") -> str:
    return f"{base_path(request)}/directory{path}" + (
        f"?done={notice}" if notice else ""
    )


def _notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("done", ""), "")


def _lad_names(db: Session) -> dict[str, str]:
    return {
        code: name
        for code, name in db.execute(select(LocalAuthority.code, LocalAuthority.name))
    }


def _rows(db: Session, orgs: list[Organisation]) -> list[Row]:
    ids = [o.id for o in orgs]
    names = _lad_names(db)
    areas: dict[str, list[str]] = {}
    for oid, code in db.execute(
        select(OrganisationArea.organisation_id, OrganisationArea.lad_code).where(
            OrganisationArea.organisation_id.in_(ids)
        )
    ):
        areas.setdefault(oid, []).append(names.get(code, code))
    edited = set(
        db.scalars(
            select(OrganisationOverride.organisation_id).where(
                OrganisationOverride.organisation_id.in_(ids)
            )
        )
    )
    return [
        Row(
            o,
            sorted(areas.get(o.id, [])),
            edits.is_stale(o.last_verified),
            o.id in edited,
        )
        for o in orgs
    ]


@guard()
async def directory_search(request: Request) -> Response:
    """Search the directory by name, id, website or council area."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _denied(request, "see the directory pages")
    query = request.query_params.get("q", "")[:100]
    stale_only = request.query_params.get("stale") == "1"

    def load(db: Session) -> dict[str, Any]:
        found = edits.search_organisations(db, query=query, limit=500)
        rows = _rows(db, found)
        if stale_only:
            rows = [r for r in rows if r.stale and r.org.active]
        return {"rows": rows[:200], "total": len(rows)}

    context = await run_db(load)
    return render(
        request,
        "directory_search.html",
        {
            **context,
            "q": query,
            "stale_only": stale_only,
            "page": "directory",
            "can_add": scope.everything,
            "notice": _notice(request),
        },
    )


def _form_values(form: Any) -> dict[str, Any]:
    """Return the edit form's fields as edits.edit_organisation expects them."""
    values: dict[str, Any] = {}
    for field in ("name", "kind", "website", "phone", "email", "confidence"):
        if field in form:
            values[field] = str(form.get(field, ""))
    if "lad_codes" in form:
        raw = str(form.get("lad_codes", "")).replace(",", " ").replace(";", " ")
        values["lad_codes"] = [c for c in raw.split() if c]
    if "last_verified" in form:
        values["last_verified"] = str(form.get("last_verified", "")) or None
    if "active" in form:
        values["active"] = str(form.get("active")) == "yes"
    return values


def _organisation_context(db: Session, organisation_id: str) -> dict[str, Any] | None:
    org = db.get(Organisation, organisation_id)
    if org is None:
        return None
    snap = edits.snapshot(db, organisation_id)
    names = _lad_names(db)
    successor = db.get(Organisation, org.successor_id) if org.successor_id else None
    open_reports = list(
        db.scalars(
            select(DirectoryReport).where(
                DirectoryReport.organisation_id == organisation_id,
                DirectoryReport.status == "open",
            )
        )
    )
    return {
        "org": org,
        "snap": snap,
        "areas": [(c, names.get(c, c)) for c in snap["lad_codes"]],
        "successor": successor,
        "history": edits.history(db, organisation_id=organisation_id),
        "override": db.get(OrganisationOverride, organisation_id),
        "stale": edits.is_stale(org.last_verified),
        "kinds": edits.KINDS,
        "confidences": edits.CONFIDENCES,
        "labels": FIELD_LABELS,
        "reports": open_reports,
        "today": date.today().isoformat(),
    }


@guard()
async def organisation_page(request: Request) -> Response:
    """Show an organisation's fields, its edit form and its recorded changes."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _denied(request, "see the directory pages")
    oid = str(request.path_params["organisation_id"])[:16]
    context = await run_db(lambda db: _organisation_context(db, oid))
    if context is None:
        return error_page(
            request,
            404,
            "Organisation not found",
            "There is no organisation with that id in the directory.",
            back=base_path(request) + "/directory",
        )
    return render(
        request,
        "directory_organisation.html",
        {
            **context,
            "page": "directory",
            "may_edit": _may_edit(scope, oid),
            "error": request.query_params.get("error", "")[:300],
            "notice": _notice(request),
        },
    )


def _back_with_error(request: Request, oid: str, error: str) -> Response:
    path = f"/organisations/{quote(oid, safe='')}?error={quote(error[:300])}"
    return see_other(f"{base_path(request)}/directory{path}")


@guard()
async def organisation_edit(request: Request) -> Response:
    """Save an organisation's changed fields (recorded, reversible)."""
    scope = scope_of(request)
    oid = str(request.path_params["organisation_id"])[:16]
    if not _may_edit(scope, oid):
        return _denied(request)
    actor = adviser_of(request).username
    values = _form_values(await request.form())

    def save(db: Session) -> str:
        if db.get(Organisation, oid) is None:
            raise edits.EditError(f"no organisation {oid!r}")
        done = edits.edit_organisation(
            db, organisation_id=oid, actor=actor, changes=values
        )
        return "saved" if done else "unchanged"

    try:
        notice = await run_db(save)
    except edits.EditError as exc:
        return _back_with_error(request, oid, str(exc))
    return see_other(_url(request, f"/organisations/{quote(oid, safe='')}", notice))


@guard()
async def organisation_close(request: Request) -> Response:
    """Mark an organisation closed, naming its successor (or none)."""
    scope = scope_of(request)
    oid = str(request.path_params["organisation_id"])[:16]
    if not _may_edit(scope, oid):
        return _denied(request)
    actor = adviser_of(request).username
    form = await request.form()
    successor = str(form.get("successor_id", "")).strip()[:16] or None
    note = str(form.get("closed_note", "")).strip()[:200] or None

    def close(db: Session) -> None:
        edits.close_organisation(
            db, organisation_id=oid, actor=actor, successor_id=successor, note=note
        )

    try:
        await run_db(close)
    except edits.EditError as exc:
        return _back_with_error(request, oid, str(exc))
    return see_other(_url(request, f"/organisations/{quote(oid, safe='')}", "closed"))


@guard()
async def edit_revert(request: Request) -> Response:
    """Undo one recorded change."""
    scope = scope_of(request)
    try:
        edit_id = int(str(request.path_params["edit_id"]))
    except ValueError:
        edit_id = -1
    actor = adviser_of(request).username

    def undo(db: Session) -> tuple[str, bool] | None:
        edit = db.get(OrganisationEdit, edit_id)
        if edit is None:
            return None
        if not _may_edit(scope, edit.organisation_id):
            return edit.organisation_id, False
        edits.revert_edit(db, edit_id=edit_id, actor=actor)
        return edit.organisation_id, True

    try:
        found = await run_db(undo)
    except edits.EditError as exc:
        return error_page(request, 409, "Cannot undo", str(exc))
    if found is None:
        return error_page(
            request,
            404,
            "Change not found",
            "There is no recorded change with that number.",
            back=base_path(request) + "/directory",
        )
    oid, done = found
    if not done:
        return _denied(request)
    return see_other(_url(request, f"/organisations/{quote(oid, safe='')}", "undone"))


@guard()
async def new_organisation_page(request: Request) -> Response:
    """Show the form for an organisation the shipped data lacks."""
    scope = scope_of(request)
    if not scope.everything:
        return _denied(request, "add organisations")
    return render(
        request,
        "directory_new.html",
        {
            "page": "directory",
            "kinds": edits.KINDS,
            "confidences": edits.CONFIDENCES,
            "nations": [n.value for n in Nation],
            "error": request.query_params.get("error", "")[:300],
            "today": date.today().isoformat(),
        },
    )


@guard()
async def new_organisation(request: Request) -> Response:
    """Add an organisation (recorded as an addition; undo makes it inactive)."""
    scope = scope_of(request)
    if not scope.everything:
        return _denied(request, "add organisations")
    actor = adviser_of(request).username
    form = await request.form()
    values = _form_values(form)
    values.pop("active", None)
    try:
        nation = Nation(str(form.get("nation", "")))
    except ValueError:
        nation = None

    def add(db: Session) -> str:
        if nation is None:
            raise edits.EditError("nation: choose one")
        return edits.add_organisation(db, actor=actor, fields=values, nation=nation)

    try:
        oid = await run_db(add)
    except edits.EditError as exc:
        return see_other(_url(request, "/new") + f"?error={quote(str(exc)[:300])}")
    return see_other(_url(request, f"/organisations/{quote(oid, safe='')}", "added"))


@guard()
async def coverage_page(request: Request) -> Response:
    """List council areas without a local organisation, and stale entries."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _denied(request, "see the directory pages")

    def load(db: Session) -> dict[str, Any]:
        active = list(db.scalars(select(Organisation).where(Organisation.active)))
        stale = [o for o in active if edits.is_stale(o.last_verified)]
        return {
            "gaps": areas_without_local(db),
            "stale_count": len(stale),
            "active_count": len(active),
        }

    context = await run_db(load)
    return render(request, "directory_coverage.html", {**context, "page": "directory"})


@guard()
async def reports_page(request: Request) -> Response:
    """The operators' queue of "Is this wrong?" reports, oldest first."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _denied(request, "see the directory pages")

    def load(db: Session) -> dict[str, Any]:
        rows = reports.open_reports(db)
        names = _lad_names(db)
        orgs = {
            o.id: o
            for o in db.scalars(
                select(Organisation).where(
                    Organisation.id.in_([r.organisation_id for r in rows])
                )
            )
        }
        return {"rows": rows, "area_names": names, "orgs": orgs}

    context = await run_db(load)
    return render(
        request,
        "directory_reports.html",
        {**context, "page": "directory", "notice": _notice(request)},
    )


@guard()
async def report_resolve(request: Request) -> Response:
    """Mark a report dealt with."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _denied(request)
    try:
        report_id = int(str(request.path_params["report_id"]))
    except ValueError:
        report_id = -1
    actor = adviser_of(request).username
    await run_db(
        lambda db: reports.resolve_report(db, report_id=report_id, actor=actor)
    )
    return see_other(_url(request, "/reports", "resolved"))


def directory_routes() -> list[tuple[str, Any, str, str]]:
    """Return (path, endpoint, method, name) for the console's route table."""
    org = "/directory/organisations/{organisation_id:str}"
    return [
        ("/directory", directory_search, "GET", "console_directory"),
        ("/directory/new", new_organisation_page, "GET", "console_directory_new"),
        ("/directory/new", new_organisation, "POST", "console_directory_add"),
        ("/directory/coverage", coverage_page, "GET", "console_directory_coverage"),
        ("/directory/reports", reports_page, "GET", "console_directory_reports"),
        (
            "/directory/reports/{report_id:str}/resolve",
            report_resolve,
            "POST",
            "console_directory_report_resolve",
        ),
        (org, organisation_page, "GET", "console_directory_organisation"),
        (f"{org}/edit", organisation_edit, "POST", "console_directory_edit"),
        (f"{org}/close", organisation_close, "POST", "console_directory_close"),
        (
            "/directory/edits/{edit_id:str}/revert",
            edit_revert,
            "POST",
            "console_directory_revert",
        ),
    ]
