"""Console routes for sharing the work: assign, take over, transfer to another
organisation's queue, and each adviser's availability."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import (
    adviser_of,
    base_path,
    conversation_not_found,
    guard,
    run_db,
)
from bot.console.conversation import _conflict
from bot.console.views import conversation_url, error_page, form_text, see_other
from bot.conversations import service
from bot.db.models import Adviser, Availability, Conversation, Organisation
from bot.db.repositories import access
from bot.db.repositories import console_desk as desk
from bot.db.repositories.briefs import local_organisations
from bot.domain.handoff import IllegalTransition

log = logging.getLogger(__name__)

MAX_NOTE = 2000
_ORGANISATION = re.compile(r"\(([A-Za-z0-9]{1,16})\)\s*$")
_NO_COLLEAGUE = ("Choose a colleague", "Choose one of your colleagues from the list.")


def _bad(request: Request, conversation_id: str, title: str, message: str) -> Response:
    return error_page(
        request, 400, title, message, back=conversation_url(request, conversation_id)
    )


class _Refused(Exception):
    """The form chose a colleague or an organisation the move cannot go to."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title, self.message = title, message


async def _share(
    request: Request, attempt: Callable[[Session], object], done: str
) -> Response | None:
    """Run ``attempt`` in one transaction; return the page that says why it did
    not happen (404, 400 for a refused choice, 409), or None when it did."""
    conversation_id = request.path_params["conversation_id"]
    try:
        await run_db(attempt)
    except LookupError:
        return conversation_not_found(request)
    except _Refused as refused:
        return _bad(request, conversation_id, refused.title, refused.message)
    except (service.Conflict, IllegalTransition) as exc:
        return _conflict(request, conversation_id, f"Not possible: {exc}.")
    log.info("console: %s", done, extra={"conversation_id": conversation_id})
    return None


async def _assign_to(request: Request, assignee_id: int | None) -> Response:
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    taking_over = assignee_id is None

    def attempt(db: Session) -> None:
        target = db.get(Adviser, assignee_id or adviser.id)
        # only to an active colleague who may see the conversation (their scope)
        if (
            target is None
            or not target.active
            or not access.can_see(db, access.scope_for(db, target), conversation_id)
        ):
            raise _Refused(*_NO_COLLEAGUE)
        service.assign(
            db, conversation_id=conversation_id, adviser=adviser, assignee=target
        )

    problem = await _share(request, attempt, "assigned")
    notice = "taken_over" if taking_over else "assigned"
    return problem or see_other(conversation_url(request, conversation_id, notice))


@guard()
async def assign(request: Request) -> Response:
    """Assign the conversation to a colleague (``adviser_id``)."""
    raw = await form_text(request, "adviser_id")
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**31:
        return _bad(request, request.path_params["conversation_id"], *_NO_COLLEAGUE)
    return await _assign_to(request, int(raw))


@guard()
async def take_over(request: Request) -> Response:
    """Take the conversation over (from the queue, or from a colleague)."""
    return await _assign_to(request, None)


@guard()
async def transfer(request: Request) -> Response:
    """Move the conversation to another organisation's queue with a note."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    chosen = await form_text(request, "organisation")
    note = (await form_text(request, "note"))[:MAX_NOTE]
    found = _ORGANISATION.search(chosen)
    if not found:
        return _bad(
            request,
            conversation_id,
            "Choose an organisation",
            "Type part of the organisation's name and choose it from the list.",
        )
    to_id = found.group(1)

    def attempt(db: Session) -> None:
        organisation = db.get(Organisation, to_id)
        if organisation is None or not organisation.active:
            raise _Refused(
                "Choose an organisation", "That organisation is not in the directory."
            )
        conversation = db.get(Conversation, conversation_id)
        if conversation is None:
            raise LookupError(conversation_id)
        source = conversation.organisation_id
        if source is None and conversation.lad_code:
            covering = local_organisations(db, lad_codes={conversation.lad_code})
            source = next(iter(covering.get(conversation.lad_code, [])), (None, ""))[0]
        service.transfer(
            db,
            conversation_id=conversation_id,
            adviser=adviser,
            from_organisation_id=source,
            to_organisation_id=organisation.id,
            to_name=organisation.name,
            note=note,
        )

    problem = await _share(request, attempt, "transferred")
    return problem or see_other(base_path(request) + "/?notice=transferred")


@guard()
async def set_availability(request: Request) -> Response:
    """Say whether you are available or away (colleagues see it)."""
    adviser = adviser_of(request)
    value = await form_text(request, "availability")
    if value not in {a.value for a in Availability}:
        return error_page(
            request,
            400,
            "Choose available or away",
            "Your availability is either available or away.",
            back=base_path(request) + "/",
        )
    await run_db(
        lambda db: desk.set_availability(db, adviser_id=adviser.id, availability=value)
    )
    return see_other(base_path(request) + "/?notice=availability")
