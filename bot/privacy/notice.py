"""The privacy notice people see (widget, Telegram's /privacy) and the widget's
own "Delete this conversation" (its API under /api/widget/)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.i18n import LANGUAGES, text
from bot.privacy.erasure import erase_conversation
from bot.settings import Settings

log = logging.getLogger(__name__)


def notice(settings: Settings, lang: str | None, reference: str | None) -> list[str]:
    """Return the notice's paragraphs: what is kept, by whom, how long, a copy."""
    ref = reference or "-"
    copy = (
        text("privacy.copy", lang, contact=settings.privacy_contact, reference=ref)
        if settings.privacy_contact
        else text("privacy.copy_no_contact", lang, reference=ref)
    )
    return [
        text("privacy.kept", lang),
        text("privacy.who", lang),
        text("privacy.how_long", lang, days=settings.retention_days),
        copy,
    ]


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "en")
    return lang if lang in LANGUAGES else "en"


async def privacy_page(request: Request, settings: Settings) -> Response:
    """GET /api/widget/privacy?lang=&conversation_id=: the notice and the
    delete texts, for the widget."""
    lang = _lang(request)
    reference = request.query_params.get("conversation_id")
    if reference is not None and (len(reference) > 64 or not reference.isprintable()):
        reference = None
    labels = {
        k: text(f"privacy.{k}", lang)
        for k in (
            "title",
            "delete_button",
            "delete_confirm",
            "delete_yes",
            "delete_no",
            "deleted",
            "delete_failed",
        )
    }
    return JSONResponse(
        {
            "paragraphs": notice(settings, lang, reference),
            "retention_days": settings.retention_days,
            **labels,
        },
        headers={"Cache-Control": "no-store"},
    )


def erase_own(session: Session, conversation_id: str) -> bool:
    """The person's own erasure of one conversation (in the caller's transaction)."""
    return erase_conversation(session, conversation_id, by="person")


def deleted_response(found: bool) -> Response:
    """The answer to the widget's delete: the same whether or not it existed."""
    if found:
        log.info("privacy: a person deleted their conversation")
    return JSONResponse({"deleted": True})


def delete_body_ok(body: dict[str, Any] | None) -> bool:
    """A delete asks for itself explicitly: {"token": ..., "confirm": true}."""
    return body is not None and body.get("confirm") is True
