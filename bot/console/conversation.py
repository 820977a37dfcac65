"""Console pages for one conversation: transcript, replies, notes and the moves."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.console import live
from bot.console.auth import (
    adviser_of,
    base_path,
    conversation_not_found,
    guard,
    run_db,
    scope_of,
)
from bot.console.events import event_stream
from bot.console.views import (
    conversation_url,
    error_page,
    form_text,
    render,
    see_other,
)
from bot.conversations import service
from bot.db.models import ConversationStatus as Status
from bot.db.repositories import access
from bot.db.repositories import console as repo
from bot.db.repositories import console_desk as desk
from bot.db.repositories.console_search import earlier_conversations
from bot.domain.handoff import OUTCOMES, IllegalTransition, Transition
from bot.gateway.events import message_event, message_view, status_event
from bot.privacy import audit

log = logging.getLogger(__name__)

MAX_TEXT = 20_000  # Telegram gets a longer reply in parts of up to 4,096
MAX_ID = 2**31 - 1  # message ids are 32-bit integers
MAX_EMAIL = 20_000  # as long as a chat reply (an email is never split)
EMAIL_CHANNEL = "email"


def _conversation_context(
    db: Session,
    *,
    conversation_id: str,
    adviser_id: int,
    after_id: int = 0,
    full: bool = False,
    panel: bool = False,
    organisation_id: str | None = None,
    scope: access.Scope | None = None,
) -> dict[str, Any] | None:
    item = repo.conversation_item(
        db, conversation_id=conversation_id, adviser_id=adviser_id
    )
    if item is None:
        return None
    extra: dict[str, Any] = {}
    if full:
        # the whole page: what the summary section and its forms need
        extra = {
            "corrections": desk.corrections(db, conversation_id=conversation_id),
            "districts": desk.districts(db),
            "subtopics": desk.SUBTOPICS,
            "earlier": earlier_conversations(
                db, conversation_id=conversation_id, scope=scope
            ),
            "neighbours": repo.neighbours(
                db, conversation_id=conversation_id, adviser_id=adviser_id, scope=scope
            ),
        }
    if full or panel:
        # the status panel and the composer (also re-rendered live)
        extra["saved"] = desk.saved_replies(
            db, adviser_id=adviser_id, organisation_id=organisation_id
        )
        extra["colleagues"] = [
            c for c in desk.colleagues(db, scope=scope) if c.id != adviser_id
        ]
        extra["organisations"] = repo.filter_choices(db, areas=False).organisations
    if after_id < MAX_ID:
        # the adviser is reading the transcript: the queue's badge goes
        desk.mark_read(db, adviser_id=adviser_id, conversation_id=conversation_id)
    lines = (
        repo.list_transcript(db, conversation_id=conversation_id, after_id=after_id)
        if after_id < MAX_ID
        else []
    )
    mine = item.status is Status.ASSIGNED and item.assignee_id == adviser_id
    holds = item.status is Status.QUEUED or mine
    extra["can_take_over"] = item.status is Status.ASSIGNED and not mine
    extra["can_assign"] = item.status in (Status.QUEUED, Status.ASSIGNED)
    extra["can_transfer"] = holds
    return {
        "item": item,
        "lines": lines,
        "last_id": lines[-1].id if lines else after_id,
        "canned": repo.canned_replies(db, conversation_id=conversation_id)
        if mine
        else [],
        "outcomes": OUTCOMES,
        "mine": mine,
        "can_claim": item.status is Status.QUEUED,
        "can_release": mine,
        "can_resolve": holds,
        "can_hand_back": holds,
        "can_reply": mine,
        "can_email": mine and bool(item.contact_email),
        **extra,
    }


async def _load_conversation(
    request: Request, after_id: int = 0, *, full: bool = False, panel: bool = False
) -> dict[str, Any] | None:
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    scope = scope_of(request)
    return await run_db(
        lambda db: _conversation_context(
            db,
            conversation_id=conversation_id,
            adviser_id=adviser.id,
            after_id=after_id,
            full=full,
            panel=panel,
            organisation_id=adviser.organisation_id,
            scope=scope,
        )
    )


@guard()
async def conversation_page(request: Request) -> Response:
    """Show a conversation: summary, transcript, and what the adviser can do."""
    context = await _load_conversation(request, full=True)
    if context is None:
        return conversation_not_found(request)
    await _audit_opening(request)
    return render(request, "conversation.html", {**context, "page": "conversation"})


async def _audit_opening(request: Request) -> None:
    """Write the opening of a transcript to the audit log (who, when, which)."""
    adviser = adviser_of(request)
    conversation_id = request.path_params["conversation_id"]
    await run_db(
        lambda db: audit.record(
            db,
            action=audit.TRANSCRIPT_OPENED,
            actor=adviser.username,
            adviser_id=adviser.id,
            conversation_id=conversation_id,
        )
    )


@guard()
async def conversation_messages(request: Request) -> Response:
    """Return the transcript lines after ``?after=``, for the live refresh."""
    after = request.query_params.get("after", "0")
    after_id = min(int(after), MAX_ID) if after.isascii() and after.isdigit() else 0
    context = await _load_conversation(request, after_id)
    if context is None:
        return PlainTextResponse("Not found", status_code=404)
    return render(request, "_messages.html", context)


@guard()
async def conversation_panel(request: Request) -> Response:
    """Return the status panel and reply box, for the live refresh."""
    context = await _load_conversation(request, after_id=MAX_ID, panel=True)
    if context is None:
        return PlainTextResponse("Not found", status_code=404)
    return render(request, "_panels.html", context)


@guard()
async def conversation_events(request: Request) -> Response:
    """Stream one conversation's changes as server-sent events."""
    return event_stream(
        request, live.conversation_topic(request.path_params["conversation_id"])
    )


def _announce(
    conversation_id: str, status: Status | None, messages: list[dict[str, Any]]
) -> None:
    """Tell the queue and the conversation's watchers what changed.

    The same vocabulary as the gateway (``status`` and ``message`` events); the
    widget passes on only incoming and outgoing messages, never notes or activity.
    """
    topic = live.conversation_topic(conversation_id)
    for view in messages:
        live.publish(topic, message_event(conversation_id, view))
    if status is not None:
        event = status_event(conversation_id, status.value)
        live.publish(topic, event)
        live.publish(live.QUEUE_TOPIC, event)


def _conflict(request: Request, conversation_id: str, message: str) -> Response:
    return error_page(
        request,
        409,
        "That could not be done",
        message,
        back=conversation_url(request, conversation_id),
    )


@guard()
async def claim(request: Request) -> Response:
    """Pick a queued conversation up; 409 if another adviser got there first."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)

    def attempt(db: Session) -> str:
        try:
            service.claim(db, conversation_id=conversation_id, adviser=adviser)
        except service.Conflict:
            db.rollback()
            exists = repo.conversation_item(db, conversation_id=conversation_id)
            return "lost" if exists else "missing"
        except LookupError:
            return "missing"
        return "won"

    outcome = await run_db(attempt)
    if outcome == "missing":
        return conversation_not_found(request)
    if outcome == "lost":
        return _conflict(
            request,
            conversation_id,
            "Another adviser picked this conversation up first, or it is no "
            "longer waiting.",
        )
    log.info("console: claimed", extra={"conversation_id": conversation_id})
    return see_other(conversation_url(request, conversation_id, "claimed"))


async def _move(
    request: Request, transition: Transition, outcome: str = ""
) -> tuple[Status | None, Response | None]:
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)

    def attempt(db: Session) -> Status:
        return service.transition(
            db,
            conversation_id=conversation_id,
            move=transition,
            adviser=adviser,
            outcome=outcome,
        ).status

    try:
        status = await run_db(attempt)
    except LookupError:
        return None, conversation_not_found(request)
    except (IllegalTransition, service.Conflict) as exc:
        return None, _conflict(request, conversation_id, f"Not possible: {exc}.")
    log.info(
        "console: %s", transition.value, extra={"conversation_id": conversation_id}
    )
    return status, None


@guard()
async def release(request: Request) -> Response:
    """Put the conversation back in the queue."""
    _, problem = await _move(request, Transition.RELEASE)
    return problem or see_other(base_path(request) + "/?notice=released")


@guard()
async def resolve(request: Request) -> Response:
    """Close the conversation with an outcome."""
    outcome = await form_text(request, "outcome")
    if outcome not in OUTCOMES:
        return error_page(
            request,
            400,
            "Choose an outcome",
            "Choose one of the outcomes to resolve the conversation.",
            back=conversation_url(request, request.path_params["conversation_id"]),
        )
    _, problem = await _move(request, Transition.RESOLVE, outcome)
    return problem or see_other(base_path(request) + "/?notice=resolved")


@guard()
async def hand_back(request: Request) -> Response:
    """Give the conversation back to the bot and tell the bot."""
    conversation_id = request.path_params["conversation_id"]
    _, problem = await _move(request, Transition.HAND_BACK)
    if problem:
        return problem
    notice = "handed_back"
    try:
        await live.resume_bot(conversation_id)
    except Exception:
        # Rasa still holds the pause (conversations.bot_paused stays set): the
        # pipeline lifts it before the bot's next turn, or hands the person
        # back to the queue if the bot is still down then.
        log.warning(
            "console: bot not reachable to resume",
            exc_info=True,
            extra={"conversation_id": conversation_id},
        )
        notice = "handed_back_unconfirmed"
    else:
        await run_db(
            lambda db: service.bot_resumed(db, conversation_id=conversation_id)
        )
    return see_other(base_path(request) + f"/?notice={notice}")


def _bad_text(request: Request, conversation_id: str, what: str) -> Response:
    return error_page(
        request,
        400,
        f"Write a {what}",
        f"A {what} needs between 1 and {MAX_TEXT} characters.",
        back=conversation_url(request, conversation_id),
    )


@guard()
async def reply(request: Request) -> Response:
    """Send a reply (typed, or a canned one built from the directory) to the person."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    text = await form_text(request, "text")
    canned_key = await form_text(request, "canned")
    saved_id = await form_text(request, "saved")

    def check(db: Session) -> str | None:
        repo.check_can_reply(db, conversation_id=conversation_id, adviser_id=adviser.id)
        if saved_id:
            for saved in desk.saved_replies(
                db, adviser_id=adviser.id, organisation_id=adviser.organisation_id
            ):
                if str(saved.id) == saved_id:
                    return saved.text
            return None
        if canned_key:
            found = repo.canned_reply(
                db, conversation_id=conversation_id, key=canned_key
            )
            return found.text if found else None
        return text

    try:
        text_to_send = await run_db(check)
    except LookupError:
        return conversation_not_found(request)
    except repo.ConsoleConflict as exc:
        return _conflict(request, conversation_id, f"Not possible: {exc}.")
    if not text_to_send or len(text_to_send) > MAX_TEXT:
        return _bad_text(request, conversation_id, "reply")
    reply_text = text_to_send

    def store(db: Session) -> None:
        conversation = repo.check_can_reply(
            db, conversation_id=conversation_id, adviser_id=adviser.id
        )
        # Stored with its outbox row in one transaction; the delivery worker
        # sends it, and the transcript shows sending / delivered / failed.
        service.send(
            db,
            conversation=conversation,
            sender="adviser",
            text=reply_text,
            adviser_id=adviser.id,
        )

    try:
        await run_db(store)
    except repo.ConsoleConflict as exc:
        return _conflict(request, conversation_id, f"Not possible: {exc}.")
    log.info("console: reply stored", extra={"conversation_id": conversation_id})
    return see_other(conversation_url(request, conversation_id, "replied"))


@guard()
async def retry_delivery(request: Request) -> Response:
    """Send a reply that failed to reach the person again."""
    conversation_id = request.path_params["conversation_id"]
    raw = request.path_params["message_id"]
    message_id = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 0 < message_id <= MAX_ID:
        return conversation_not_found(request)
    retried = await run_db(
        lambda db: service.retry_delivery(
            db, conversation_id=conversation_id, message_id=message_id
        )
    )
    if not retried:
        return _conflict(
            request, conversation_id, "That message is not waiting for a retry."
        )
    log.info("console: delivery retried", extra={"conversation_id": conversation_id})
    return see_other(conversation_url(request, conversation_id, "retrying"))


@guard()
async def add_note(request: Request) -> Response:
    """Add an internal note (never sent to the person)."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    text = await form_text(request, "text")
    if not text or len(text) > MAX_TEXT:
        return _bad_text(request, conversation_id, "note")
    try:
        view = await run_db(
            lambda db: message_view(
                repo.add_note(
                    db, conversation_id=conversation_id, adviser=adviser, text=text
                )
            )
        )
    except LookupError:
        return conversation_not_found(request)
    _announce(conversation_id, None, [view])
    return see_other(conversation_url(request, conversation_id, "noted"))


_DISTRICT = re.compile(r"\(([A-Z][0-9]{8})\)\s*$")


@guard()
async def correct_triage(request: Request) -> Response:
    """Correct what the bot understood: the topic (and subtopic) and the place."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    form = await request.form()
    topic_field = str(form.get("topic", "")).strip()
    district = str(form.get("district", "")).strip()
    topic, _, subtopic = topic_field.partition("/")
    found = _DISTRICT.search(district)
    if district and not found:
        return error_page(
            request,
            400,
            "Choose a district from the list",
            "Type part of the district's name and choose it from the list.",
            back=conversation_url(request, conversation_id),
        )
    correction = desk.Correction(
        topic=topic or None,
        subtopic=subtopic or None,
        lad_code=found.group(1) if found else None,
        place_name=str(form.get("place_name", ""))[:120],
    )
    try:
        await run_db(
            lambda db: desk.correct_triage(
                db,
                conversation_id=conversation_id,
                adviser_id=adviser.id,
                correction=correction,
            )
        )
    except LookupError:
        return conversation_not_found(request)
    except desk.BadCorrection as exc:
        return error_page(
            request,
            400,
            "That correction could not be saved",
            f"Not possible: {exc}.",
            back=conversation_url(request, conversation_id),
        )
    live.publish(
        live.QUEUE_TOPIC, {"type": "triage", "conversation_id": conversation_id}
    )
    log.info("console: triage corrected", extra={"conversation_id": conversation_id})
    return see_other(conversation_url(request, conversation_id, "corrected"))


@guard()
async def email_reply(request: Request) -> Response:
    """Answer by email the person who left an address (kept in the transcript)."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    text = await form_text(request, "text")
    if not text or len(text) > MAX_EMAIL:
        return error_page(
            request,
            400,
            "Write an email",
            f"An email needs between 1 and {MAX_EMAIL} characters.",
            back=conversation_url(request, conversation_id),
        )

    def store(db: Session) -> None:
        conversation = repo.check_can_reply(
            db, conversation_id=conversation_id, adviser_id=adviser.id
        )
        if not conversation.contact_email:
            raise repo.ConsoleConflict("the person left no email address")
        service.send(
            db,
            conversation=conversation,
            sender="adviser",
            text=text,
            adviser_id=adviser.id,
            channel=EMAIL_CHANNEL,
        )

    try:
        await run_db(store)
    except LookupError:
        return conversation_not_found(request)
    except repo.ConsoleConflict as exc:
        return _conflict(request, conversation_id, f"Not possible: {exc}.")
    log.info("console: email reply stored", extra={"conversation_id": conversation_id})
    return see_other(conversation_url(request, conversation_id, "emailed"))
