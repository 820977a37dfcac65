"""Console routes: sign-in, the queue, and the table of every console route.

Mounted by the gateway with ``Mount("/console", routes=console_routes())``; every
link is built from the mount's root path, so any mount point works.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import account, live, reports, team
from bot.console.audit import audit_page
from bot.console.auth import (
    adviser_of,
    attempt_login,
    base_path,
    clear_session_cookie,
    client_ip,
    current_session,
    guard,
    run_db,
    safe_next,
    scope_of,
    set_session_cookie,
    visitor_session,
)
from bot.console.conversation import (
    add_note,
    claim,
    conversation_events,
    conversation_messages,
    conversation_page,
    conversation_panel,
    correct_triage,
    email_reply,
    hand_back,
    release,
    reply,
    resolve,
    retry_delivery,
)
from bot.console.desk import assign, set_availability, take_over, transfer
from bot.console.directory_admin import directory_routes
from bot.console.events import event_stream
from bot.console.headers import ConsoleHeaders
from bot.console.saved import (
    add_saved_reply,
    delete_saved_reply,
    saved_replies_page,
)
from bot.console.search import search_page
from bot.console.views import STATIC_DIR, error_page, render, see_other
from bot.db.repositories import advisers
from bot.db.repositories import console as repo
from bot.db.repositories import console_desk as desk
from bot.directory.service import current_lad_code
from bot.language import normalise as normalise_language
from bot.settings import get_settings

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# Cards shown in the queue, urgent first; the rest are counted, and searchable.
QUEUE_SHOWN = 100
_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _code(value: str | None) -> str | None:
    """Return a directory code from a query string, or None if it is not one."""
    return value if value and _CODE.match(value) else None


# --------------------------------------------------------------------------------
# Sign-in
# --------------------------------------------------------------------------------


@guard(login=False)
async def login_page(request: Request) -> Response:
    """Show the sign-in form, starting a visitor session for its CSRF token."""
    session = await current_session(request)
    if session is not None and session.adviser is not None:
        return see_other(base_path(request) + "/")
    fresh = None
    if session is None:
        # no database row until sign-in (auth.visitor_session)
        fresh = visitor_session()
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
            old_session_id=session.id,
        )
    )
    if result.outcome == "limited":
        context["error"] = (
            "Too many failed attempts. Wait 15 minutes, then try again, "
            "or ask your console administrator to check your account."
        )
        limited = render(request, "login.html", context, status_code=429)
        limited.headers["Retry-After"] = "900"
        return limited
    if result.outcome != "ok" or result.session is None:
        context["error"] = "The username or password is not right."
        return render(request, "login.html", context, status_code=400)
    assert result.session.token
    log.info("console: adviser signed in")
    response = see_other(target)
    set_session_cookie(response, request, result.session.token)
    return response


@guard(before_new_password=True)
async def logout(request: Request) -> Response:
    """End the session on the server and drop the cookie."""
    session = await current_session(request)
    assert session is not None
    await run_db(lambda db: advisers.delete_session(db, session_id=session.id))
    response = see_other(base_path(request) + "/login?notice=signed_out")
    clear_session_cookie(response, request)
    return response


# --------------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------------


def _queue_context(request: Request, *, choices: bool) -> Any:
    organisation = _code(request.query_params.get("organisation"))
    area = _code(request.query_params.get("area"))
    language = normalise_language(request.query_params.get("language"))
    adviser = adviser_of(request)
    scope = scope_of(request)

    def load(db: Session) -> dict[str, Any]:
        nonlocal area
        if area:  # a superseded council code filters as its successor (issue 14)
            area = current_lad_code(db, area)
        data: dict[str, Any] = {
            "waiting": repo.list_queue(
                db,
                organisation_id=organisation,
                area=area,
                scope=scope,
                language=language,
                adviser_id=adviser.id,
                limit=QUEUE_SHOWN,
            ),
            "waiting_total": repo.count_queue(
                db,
                organisation_id=organisation,
                area=area,
                scope=scope,
                language=language,
            ),
            "mine": repo.list_assigned(db, adviser_id=adviser.id, scope=scope),
            "organisation": organisation or "",
            "area": area or "",
            "language": language or "",
            "query": urlencode(
                {
                    k: v
                    for k, v in (
                        ("organisation", organisation),
                        ("area", area),
                        ("language", language),
                    )
                    if v
                }
            ),
        }
        if choices:
            data["choices"] = repo.filter_choices(db, scope)
            data["colleagues"] = [
                c for c in desk.colleagues(db, scope=scope) if c.id != adviser.id
            ]
        return data

    return load


@guard()
async def queue_page(request: Request) -> Response:
    """Show the adviser's conversations and the queue: urgent first, then the
    longest waiting."""
    context = await run_db(_queue_context(request, choices=True))
    settings = get_settings()
    return render(
        request,
        "queue.html",
        {
            **context,
            "page": "queue",
            "wait_amber": settings.console_wait_amber_minutes,
            "wait_red": settings.console_wait_red_minutes,
        },
    )


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
        ("/audit", audit_page, "GET", "console_audit"),
        (conversation, conversation_page, "GET", "console_conversation"),
        (f"{conversation}/messages", conversation_messages, "GET", "console_messages"),
        (f"{conversation}/panel", conversation_panel, "GET", "console_panel"),
        (f"{conversation}/events", conversation_events, "GET", "console_events"),
        (f"{conversation}/claim", claim, "POST", "console_claim"),
        (f"{conversation}/release", release, "POST", "console_release"),
        (f"{conversation}/resolve", resolve, "POST", "console_resolve"),
        (f"{conversation}/hand-back", hand_back, "POST", "console_hand_back"),
        (f"{conversation}/reply", reply, "POST", "console_reply"),
        (
            f"{conversation}/messages/{{message_id:str}}/retry",
            retry_delivery,
            "POST",
            "console_retry_delivery",
        ),
        (f"{conversation}/notes", add_note, "POST", "console_note"),
        (f"{conversation}/triage", correct_triage, "POST", "console_correct_triage"),
        (f"{conversation}/email", email_reply, "POST", "console_email_reply"),
        (f"{conversation}/assign", assign, "POST", "console_assign"),
        (f"{conversation}/take-over", take_over, "POST", "console_take_over"),
        (f"{conversation}/transfer", transfer, "POST", "console_transfer"),
        ("/availability", set_availability, "POST", "console_availability"),
        ("/search", search_page, "GET", "console_search"),
        ("/saved-replies", saved_replies_page, "GET", "console_saved_replies"),
        ("/saved-replies", add_saved_reply, "POST", "console_add_saved_reply"),
        (
            "/saved-replies/{reply_id:str}/delete",
            delete_saved_reply,
            "POST",
            "console_delete_saved_reply",
        ),
        *directory_routes(),
        *reports.ROUTES,
        *team.ROUTES,
        *account.ROUTES,
    ]
    # The body limit sits inside the headers wrapper, so a 413 carries them too.
    limited = [*headers, Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY)]
    routes: list[BaseRoute] = [
        Route(
            path,
            endpoint,
            methods=[method],
            name=name,
            middleware=limited if method == "POST" else headers,
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
