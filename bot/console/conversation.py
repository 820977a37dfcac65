"""Console pages for one conversation: transcript, replies, notes and the moves."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.console import live
from bot.console.auth import adviser_of, base_path, guard, run_db
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
from bot.db.repositories import console as repo
from bot.domain.handoff import OUTCOMES, IllegalTransition, Transition
from bot.gateway.events import message_event, message_view, status_event
from bot.privacy import audit

log = logging.getLogger(__name__)

MAX_TEXT = 20_000  # Telegram gets a longer reply in parts of up to 4,096
MAX_ID = 2**31 - 1  # message ids are 32-bit integers


def _conversation_context(
    db: Session, *, conversation_id: str, adviser_id: int, after_id: int = 0
) -> dict[str, Any] | None:
    item = repo.conversation_item(db, conversation_id=conversation_id)
    if item is None:
        return None
    lines = (
        repo.list_transcript(db, conversation_id=conversation_id, after_id=after_id)
        if after_id < MAX_ID
        else []
    )
    mine = item.status is Status.ASSIGNED and item.assignee_id == adviser_id
    holds = item.status is Status.QUEUED or mine
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
    }


async def _load_conversation(
    request: Request, after_id: int = 0
) -> dict[str, Any] | None:
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    return await run_db(
        lambda db: _conversation_context(
            db,
            conversation_id=conversation_id,
            adviser_id=adviser.id,
            after_id=after_id,
        )
    )


def _not_found(request: Request) -> Response:
    return error_page(
        request,
        404,
        "Conversation not found",
        "There is no conversation at this address.",
        back=base_path(request) + "/",
    )


@guard()
async def conversation_page(request: Request) -> Response:
    """Show a conversation: summary, transcript, and what the adviser can do."""
    context = await _load_conversation(request)
    if context is None:
        return _not_found(request)
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
    context = await _load_conversation(request, after_id=MAX_ID)
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
        return _not_found(request)
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
        return None, _not_found(request)
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

    def check(db: Session) -> str | None:
        repo.check_can_reply(db, conversation_id=conversation_id, adviser_id=adviser.id)
        if canned_key:
            found = repo.canned_reply(
                db, conversation_id=conversation_id, key=canned_key
            )
            return found.text if found else None
        return text

    try:
        text_to_send = await run_db(check)
    except LookupError:
        return _not_found(request)
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
        return _not_found(request)
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
        return _not_found(request)
    _announce(conversation_id, None, [view])
    return see_other(conversation_url(request, conversation_id, "noted"))
