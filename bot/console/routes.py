"""Console routes: sign-in, the queue, a conversation and the moves on it.

Mounted by the gateway with ``Mount("/console", routes=console_routes())``; every
link is built from the mount's root path, so any mount point works.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import live
from bot.console.auth import (
    VISITOR_TTL,
    adviser_of,
    attempt_login,
    base_path,
    clear_session_cookie,
    client_ip,
    current_session,
    guard,
    new_session,
    run_db,
    safe_next,
    set_session_cookie,
)
from bot.console.events import event_stream
from bot.console.headers import ConsoleHeaders
from bot.console.views import STATIC_DIR, error_page, render
from bot.db.models import ConversationStatus as Status
from bot.db.repositories import console as repo
from bot.domain.handoff import OUTCOMES, IllegalTransition, Transition
from bot.gateway.events import message_event, message_view, status_event

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # under Telegram's 4096-character limit
MAX_BODY = 64 * 1024
MAX_ID = 2**31 - 1  # message ids are 32-bit integers
_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _code(value: str | None) -> str | None:
    """Return a directory code from a query string, or None if it is not one."""
    return value if value and _CODE.match(value) else None


def _conversation_url(request: Request, conversation_id: str, notice: str = "") -> str:
    url = f"{base_path(request)}/conversations/{quote(conversation_id, safe='')}"
    return url + (f"?notice={notice}" if notice else "")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form_text(request: Request, name: str) -> str:
    value = (await request.form()).get(name)
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------------
# Sign-in
# --------------------------------------------------------------------------------


@guard(login=False)
async def login_page(request: Request) -> Response:
    """Show the sign-in form, starting a visitor session for its CSRF token."""
    session = await current_session(request)
    if session is not None and session.adviser is not None:
        return _see_other(base_path(request) + "/")
    fresh = None
    if session is None:
        fresh = await run_db(
            lambda db: new_session(db, adviser_id=None, ttl=VISITOR_TTL)
        )
        request.state.console_session = fresh
    response = render(
        request,
        "login.html",
        {"next": safe_next(request, request.query_params.get("next")), "error": ""},
    )
    if fresh is not None and fresh.token:
        set_session_cookie(response, request, fresh.token)
    return response


@guard(login=False)
async def login(request: Request) -> Response:
    """Check the password; on success start a new session (a new cookie value)."""
    session = await current_session(request)
    assert session is not None  # the CSRF check needs one
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()[:80]
    password = str(form.get("password", ""))[:1024]
    target = safe_next(request, str(form.get("next", "")))
    context: dict[str, Any] = {"next": target, "username": username}
    if not username or not password:
        context["error"] = "Enter your username and password."
        return render(request, "login.html", context, status_code=400)
    result = await run_db(
        lambda db: attempt_login(
            db,
            username=username,
            password=password,
            ip=client_ip(request),
            old_session_id=session.id if session.adviser is None else None,
        )
    )
    if result.outcome == "limited":
        context["error"] = (
            "Too many failed attempts. Wait 15 minutes, then try again, "
            "or ask your console administrator to check your account."
        )
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = "900"
        return response
    if result.outcome != "ok" or result.session is None:
        context["error"] = "The username or password is not right."
        return render(request, "login.html", context, status_code=400)
    assert result.session.token
    log.info("console: adviser signed in")
    response = _see_other(target)
    set_session_cookie(response, request, result.session.token)
    return response


@guard()
async def logout(request: Request) -> Response:
    """End the session on the server and drop the cookie."""
    session = await current_session(request)
    assert session is not None
    await run_db(lambda db: repo.delete_session(db, session_id=session.id))
    response = _see_other(base_path(request) + "/login?notice=signed_out")
    clear_session_cookie(response, request)
    return response


# --------------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------------


def _queue_context(request: Request, *, choices: bool) -> Any:
    organisation = _code(request.query_params.get("organisation"))
    area = _code(request.query_params.get("area"))
    adviser = adviser_of(request)

    def load(db: Session) -> dict[str, Any]:
        data: dict[str, Any] = {
            "waiting": repo.list_queue(db, organisation_id=organisation, area=area),
            "mine": repo.list_assigned(db, adviser_id=adviser.id),
            "organisation": organisation or "",
            "area": area or "",
            "query": urlencode(
                {k: v for k, v in (("organisation", organisation), ("area", area)) if v}
            ),
        }
        if choices:
            data["choices"] = repo.filter_choices(db)
        return data

    return load


@guard()
async def queue_page(request: Request) -> Response:
    """Show the adviser's conversations and the queue, oldest first."""
    context = await run_db(_queue_context(request, choices=True))
    return render(request, "queue.html", {**context, "page": "queue"})


@guard()
async def queue_items(request: Request) -> Response:
    """Return the queue lists alone, for the live refresh."""
    context = await run_db(_queue_context(request, choices=False))
    return render(request, "_queue_items.html", context)


@guard()
async def queue_events(request: Request) -> Response:
    """Stream queue changes as server-sent events."""
    return event_stream(request, live.QUEUE_TOPIC)


# --------------------------------------------------------------------------------
# A conversation
# --------------------------------------------------------------------------------


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
    return render(request, "conversation.html", {**context, "page": "conversation"})


@guard()
async def conversation_messages(request: Request) -> Response:
    """Return the transcript lines after ``?after=``, for the live refresh."""
    after = request.query_params.get("after", "0")
    after_id = min(int(after), MAX_ID) if after.isdigit() else 0
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
        back=_conversation_url(request, conversation_id),
    )


@guard()
async def claim(request: Request) -> Response:
    """Pick a queued conversation up; 409 if another adviser got there first."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)

    def attempt(db: Session) -> tuple[str, dict[str, Any] | None]:
        activity = repo.claim(db, conversation_id=conversation_id, adviser=adviser)
        if activity is not None:
            return "won", message_view(activity)
        exists = repo.conversation_item(db, conversation_id=conversation_id)
        return ("lost" if exists else "missing"), None

    outcome, view = await run_db(attempt)
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
    _announce(conversation_id, Status.ASSIGNED, [view] if view else [])
    return _see_other(_conversation_url(request, conversation_id, "claimed"))


async def _move(
    request: Request, transition: Transition, outcome: str = ""
) -> tuple[Status | None, Response | None]:
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)

    def attempt(db: Session) -> tuple[Status, dict[str, Any]]:
        status, activity = repo.move(
            db,
            conversation_id=conversation_id,
            adviser=adviser,
            transition=transition,
            outcome=outcome,
        )
        return status, message_view(activity)

    try:
        status, view = await run_db(attempt)
    except LookupError:
        return None, _not_found(request)
    except (IllegalTransition, repo.ConsoleConflict) as exc:
        return None, _conflict(request, conversation_id, f"Not possible: {exc}.")
    log.info(
        "console: %s", transition.value, extra={"conversation_id": conversation_id}
    )
    _announce(conversation_id, status, [view])
    return status, None


@guard()
async def release(request: Request) -> Response:
    """Put the conversation back in the queue."""
    _, problem = await _move(request, Transition.RELEASE)
    return problem or _see_other(base_path(request) + "/?notice=released")


@guard()
async def resolve(request: Request) -> Response:
    """Close the conversation with an outcome."""
    outcome = await _form_text(request, "outcome")
    if outcome not in OUTCOMES:
        return error_page(
            request,
            400,
            "Choose an outcome",
            "Choose one of the outcomes to resolve the conversation.",
            back=_conversation_url(request, request.path_params["conversation_id"]),
        )
    _, problem = await _move(request, Transition.RESOLVE, outcome)
    return problem or _see_other(base_path(request) + "/?notice=resolved")


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
        log.exception(
            "console: bot did not resume", extra={"conversation_id": conversation_id}
        )
        notice = "handed_back_unconfirmed"
    return _see_other(base_path(request) + f"/?notice={notice}")


def _bad_text(request: Request, conversation_id: str, what: str) -> Response:
    return error_page(
        request,
        400,
        f"Write a {what}",
        f"A {what} needs between 1 and {MAX_TEXT} characters.",
        back=_conversation_url(request, conversation_id),
    )


@guard()
async def reply(request: Request) -> Response:
    """Send a reply (typed, or a canned one built from the directory) to the person."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    text = await _form_text(request, "text")
    canned_key = await _form_text(request, "canned")

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
    try:
        await live.deliver_reply(
            conversation_id, text=text_to_send, adviser_id=adviser.id
        )
    except Exception:
        log.exception(
            "console: reply not delivered", extra={"conversation_id": conversation_id}
        )
        return error_page(
            request,
            502,
            "Your reply was not sent",
            "The person's channel did not accept the reply. Nothing was sent; "
            "try again in a minute.",
            back=_conversation_url(request, conversation_id),
        )
    # deliver_to_person stored the message, set first_reply_at and published it
    return _see_other(_conversation_url(request, conversation_id, "replied"))


@guard()
async def add_note(request: Request) -> Response:
    """Add an internal note (never sent to the person)."""
    conversation_id = request.path_params["conversation_id"]
    adviser = adviser_of(request)
    text = await _form_text(request, "text")
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
    return _see_other(_conversation_url(request, conversation_id, "noted"))


# --------------------------------------------------------------------------------
# Wiring
# --------------------------------------------------------------------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def console_routes() -> list[BaseRoute]:
    """Return the console's routes, each wrapped with the security headers."""
    headers = [Middleware(ConsoleHeaders)]
    conversation = "/conversations/{conversation_id:str}"
    table: list[tuple[str, Any, str, str]] = [
        ("/login", login_page, "GET", "console_login_page"),
        ("/login", login, "POST", "console_login"),
        ("/logout", logout, "POST", "console_logout"),
        ("/", queue_page, "GET", "console_queue"),
        ("/queue/items", queue_items, "GET", "console_queue_items"),
        ("/events/queue", queue_events, "GET", "console_queue_events"),
        (conversation, conversation_page, "GET", "console_conversation"),
        (f"{conversation}/messages", conversation_messages, "GET", "console_messages"),
        (f"{conversation}/panel", conversation_panel, "GET", "console_panel"),
        (f"{conversation}/events", conversation_events, "GET", "console_events"),
        (f"{conversation}/claim", claim, "POST", "console_claim"),
        (f"{conversation}/release", release, "POST", "console_release"),
        (f"{conversation}/resolve", resolve, "POST", "console_resolve"),
        (f"{conversation}/hand-back", hand_back, "POST", "console_hand_back"),
        (f"{conversation}/reply", reply, "POST", "console_reply"),
        (f"{conversation}/notes", add_note, "POST", "console_note"),
    ]
    routes: list[BaseRoute] = [
        Route(
            path,
            endpoint,
            methods=[method],
            name=name,
            middleware=headers,
            max_body_size=MAX_BODY if method == "POST" else None,
        )
        for path, endpoint, method, name in table
    ]
    routes.append(
        Mount(
            "/static",
            app=StaticFiles(directory=STATIC_DIR),
            name="console_static",
            middleware=[Middleware(ConsoleHeaders, cache=True)],
        )
    )
    known = list(routes)

    @guard()
    async def not_found(request: Request) -> Response:
        """Answer any other console path: 405 if the path exists, else 404."""
        allowed = sorted(
            {
                m
                for route in known
                if isinstance(route, Route)
                and route.methods
                and route.matches(request.scope)[0] is Match.PARTIAL
                for m in route.methods
            }
        )
        if allowed:
            return PlainTextResponse(
                "Method Not Allowed",
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        return error_page(
            request,
            404,
            "Page not found",
            "There is no console page at this address.",
            back=base_path(request) + "/",
        )

    routes.append(
        Route(
            "/{path:path}",
            not_found,
            methods=ALL_METHODS,
            name="console_not_found",
            middleware=headers,
        )
    )
    return routes
