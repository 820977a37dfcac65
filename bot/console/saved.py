"""Saved replies: each adviser's own, and their organisation's shared ones."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import adviser_of, base_path, guard, run_db
from bot.console.views import error_page, form_text, render, see_other
from bot.db.repositories import console_desk as desk

log = logging.getLogger(__name__)

MAX_TEXT = 4000


@guard()
async def saved_replies_page(request: Request) -> Response:
    """List the adviser's saved replies and their organisation's, with a form."""
    adviser = adviser_of(request)

    def load(db: Session) -> dict[str, Any]:
        return {
            "replies": desk.saved_replies(
                db, adviser_id=adviser.id, organisation_id=adviser.organisation_id
            ),
            "organisation_name": desk.organisation_name(db, adviser.organisation_id),
        }

    context = await run_db(load)
    return render(request, "saved_replies.html", {**context, "page": "saved_replies"})


def _back(request: Request) -> str:
    return base_path(request) + "/saved-replies"


@guard()
async def add_saved_reply(request: Request) -> Response:
    """Save a reply (for me, or for everyone at my organisation)."""
    adviser = adviser_of(request)
    shortcut = await form_text(request, "shortcut")
    title = await form_text(request, "title")
    text = await form_text(request, "text")
    shared = (await form_text(request, "scope")) == "organisation"
    if shared and not adviser.organisation_id:
        return error_page(
            request,
            400,
            "No organisation",
            "Your account has no organisation to share the reply with.",
            back=_back(request),
        )
    if len(text) > MAX_TEXT:
        return error_page(
            request,
            400,
            "That reply is too long",
            f"A saved reply needs at most {MAX_TEXT} characters.",
            back=_back(request),
        )
    try:
        await run_db(
            lambda db: desk.add_saved_reply(
                db,
                adviser_id=adviser.id,
                shortcut=shortcut,
                title=title,
                text=text,
                organisation_id=adviser.organisation_id if shared else None,
            )
        )
    except desk.BadSavedReply as exc:
        return error_page(
            request,
            400,
            "That reply could not be saved",
            f"Not possible: {exc}.",
            back=_back(request),
        )
    log.info("console: saved reply added")
    return see_other(_back(request) + "?notice=saved_reply")


@guard()
async def delete_saved_reply(request: Request) -> Response:
    """Delete one of my saved replies (or one of my organisation's)."""
    adviser = adviser_of(request)
    raw = request.path_params["reply_id"]
    reply_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
    deleted = reply_id > 0 and await run_db(
        lambda db: desk.delete_saved_reply(
            db,
            reply_id=reply_id,
            adviser_id=adviser.id,
            organisation_id=adviser.organisation_id,
        )
    )
    if not deleted:
        return error_page(
            request,
            404,
            "Saved reply not found",
            "There is no saved reply of yours at this address.",
            back=_back(request),
        )
    return see_other(_back(request) + "?notice=saved_reply_deleted")
