"""Console pages for admins: their organisations' advisers, added, given a role
and removed (``bot.db.repositories.team`` checks the scope and audits)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import (
    adviser_of,
    base_path,
    guard,
    hash_password,
    run_db,
    scope_of,
)
from bot.console.views import error_page, form_text, render, see_other
from bot.db.models import AdviserRole
from bot.db.repositories import access, team

log = logging.getLogger(__name__)

_USERNAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def _back(request: Request) -> str:
    return base_path(request) + "/advisers"


def _admins_only(request: Request) -> Response:
    return error_page(
        request,
        403,
        "Admins only",
        "Your organisation's console admins manage its advisers.",
        back=base_path(request) + "/",
    )


def _problem(request: Request, exc: team.TeamError) -> Response:
    if isinstance(exc, team.NotManaged):
        return error_page(
            request,
            404,
            "Adviser not found",
            "There is no adviser of your organisations at this address.",
            back=_back(request),
        )
    return error_page(
        request,
        403 if isinstance(exc, team.NotAllowed) else 400,
        "That change was not made",
        f"Not possible: {exc}.",
        back=_back(request),
    )


def _role(value: str) -> AdviserRole | None:
    try:
        return AdviserRole(value)
    except ValueError:
        return None


def _organisation(value: str) -> str | None:
    """The form's organisation ("" is the national role tied to no body)."""
    return value or None


def _adviser_id(request: Request) -> int:
    raw = str(request.path_params["adviser_id"])
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0


@guard()
async def advisers_page(request: Request) -> Response:
    """List the advisers of the admin's organisations, with the forms to change
    them."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _admins_only(request)

    def load(db: Session) -> dict[str, Any]:
        return {
            "members": team.members(db, scope),
            "organisations": team.organisations(db, scope),
            "roles": [r.value for r in access.grantable_roles(scope)],
        }

    context = await run_db(load)
    return render(request, "advisers.html", {**context, "page": "advisers"})


@guard()
async def add_adviser(request: Request) -> Response:
    """Add an adviser to one of the admin's organisations: a new account with an
    initial password shown once, or an existing username."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _admins_only(request)
    actor = adviser_of(request)
    form = await request.form()
    username = (await form_text(request, "username")).lower()[:80]
    name = (await form_text(request, "name"))[:120]
    organisation_id = await form_text(request, "organisation")
    role = _role(await form_text(request, "role"))
    languages = team.clean_languages([str(v) for v in form.getlist("languages")])
    if not username or not set(username) <= _USERNAME_OK or role is None:
        return error_page(
            request,
            400,
            "That adviser could not be added",
            "Give a username (letters, digits, '.', '-' and '_') and a role.",
            back=_back(request),
        )
    password = secrets.token_urlsafe(12)  # 16 characters, shown once
    password_hash = hash_password(password)
    try:
        _, created = await run_db(
            lambda db: team.add_member(
                db,
                scope,
                actor,
                username=username,
                organisation_id=organisation_id,
                role=role,
                display_name=name,
                languages=languages,
                password_hash=password_hash,
            )
        )
    except team.TeamError as exc:
        return _problem(request, exc)
    log.info("console: an admin added an adviser to their organisation")
    if not created:
        return see_other(_back(request) + "?notice=adviser_added")
    return render(
        request,
        "adviser_added.html",
        {"username": username, "password": password, "page": "advisers"},
        status_code=201,
    )


@guard()
async def change_role(request: Request) -> Response:
    """Change an adviser's role in one of the admin's organisations."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _admins_only(request)
    actor = adviser_of(request)
    adviser_id = _adviser_id(request)
    organisation_id = _organisation(await form_text(request, "organisation"))
    role = _role(await form_text(request, "role"))
    if role is None:
        return error_page(
            request,
            400,
            "Choose a role",
            "Choose one of the roles.",
            back=_back(request),
        )
    try:
        await run_db(
            lambda db: team.change_role(
                db,
                scope,
                actor,
                adviser_id=adviser_id,
                organisation_id=organisation_id,
                role=role,
            )
        )
    except team.TeamError as exc:
        return _problem(request, exc)
    return see_other(_back(request) + "?notice=role_changed")


@guard()
async def remove_adviser(request: Request) -> Response:
    """Take an adviser out of one of the admin's organisations."""
    scope = scope_of(request)
    if not scope.is_admin:
        return _admins_only(request)
    actor = adviser_of(request)
    adviser_id = _adviser_id(request)
    organisation_id = _organisation(await form_text(request, "organisation"))
    try:
        await run_db(
            lambda db: team.remove_member(
                db,
                scope,
                actor,
                adviser_id=adviser_id,
                organisation_id=organisation_id,
            )
        )
    except team.TeamError as exc:
        return _problem(request, exc)
    return see_other(_back(request) + "?notice=adviser_removed")


ROUTES: list[tuple[str, Any, str, str]] = [
    ("/advisers", advisers_page, "GET", "console_advisers"),
    ("/advisers", add_adviser, "POST", "console_add_adviser"),
    ("/advisers/{adviser_id:str}/role", change_role, "POST", "console_adviser_role"),
    (
        "/advisers/{adviser_id:str}/remove",
        remove_adviser,
        "POST",
        "console_remove_adviser",
    ),
]
