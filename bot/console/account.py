"""The signed-in adviser's own account: choosing a new password (required after
an initial one an admin was shown)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import (
    PASSWORD_MIN_LENGTH,
    PasswordTooShort,
    adviser_of,
    base_path,
    current_session,
    guard,
    hash_password,
    run_db,
    verify_password,
)
from bot.console.views import render, see_other
from bot.db.repositories import advisers

log = logging.getLogger(__name__)


def _context(request: Request, error: str = "") -> dict[str, Any]:
    return {
        "error": error,
        "min_length": PASSWORD_MIN_LENGTH,
        "required": adviser_of(request).must_change_password,
        "page": "password",
    }


@guard(before_new_password=True)
async def password_page(request: Request) -> Response:
    """Show the form to choose a new password."""
    return render(request, "password.html", _context(request))


@guard(before_new_password=True)
async def change_password(request: Request) -> Response:
    """Check the current password, then store the new one."""
    adviser = adviser_of(request)
    session = await current_session(request)
    assert session is not None
    form = await request.form()
    current = str(form.get("current_password", ""))[:1024]
    new = str(form.get("new_password", ""))[:1024]
    again = str(form.get("new_password_again", ""))[:1024]
    def stored_hash(db: Session) -> str:
        found = advisers.get_adviser(db, adviser_id=adviser.id)
        return found.password_hash if found is not None else ""

    stored = await run_db(stored_hash)
    error = ""
    if not verify_password(stored, current):
        error = "Your current password is not right."
    elif new != again:
        error = "The two new passwords are not the same."
    elif new == current:
        error = "Choose a password different from the one you were given."
    if not error:
        try:
            new_hash = hash_password(new)
        except PasswordTooShort:
            error = f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters."
    if error:
        return render(
            request, "password.html", _context(request, error), status_code=400
        )
    await run_db(
        lambda db: advisers.set_own_password(
            db, adviser_id=adviser.id, password_hash=new_hash, keep_session=session.id
        )
    )
    log.info("console: an adviser chose a new password")
    return see_other(base_path(request) + "/?notice=password_changed")


ROUTES: list[tuple[str, Any, str, str]] = [
    ("/password", password_page, "GET", "console_password_page"),
    ("/password", change_password, "POST", "console_change_password"),
]
