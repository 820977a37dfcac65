"""Adviser sign-in: argon2 passwords, server-side sessions and the route guard."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from bot.console import csrf
from bot.db.base import utcnow
from bot.db.models import Adviser, LoginFailure
from bot.db.repositories import access
from bot.db.repositories import advisers as repo
from bot.db.session import session_scope
from bot.settings import get_settings

log = logging.getLogger(__name__)

PASSWORD_MIN_LENGTH = 12
COOKIE_NAME = "fd_console"
VISITOR_TTL = timedelta(hours=1)  # a login page left open
IDLE_TTL = timedelta(hours=2)
ABSOLUTE_TTL = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
MAX_FAILURES = 5  # per username and address ...
MAX_FAILURES_PER_ADDRESS = 30  # ... and per address across usernames
FAILURE_WINDOW = timedelta(minutes=15)

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]

_hasher = PasswordHasher()


class PasswordTooShort(ValueError):
    """A password shorter than PASSWORD_MIN_LENGTH."""


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``; refuse short ones."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordTooShort(
            f"passwords need at least {PASSWORD_MIN_LENGTH} characters"
        )
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # verified against when the username is unknown, so timing does not tell
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """Return the stored id of a cookie token (its SHA-256), so a leak of the
    sessions table does not hand out live cookies."""
    return hashlib.sha256(token.encode()).hexdigest()


async def run_db(fn: Callable[[Session], T]) -> T:
    """Run ``fn(session)`` in a worker thread, in one transaction."""

    def call() -> T:
        with session_scope(get_settings().database_url) as session:
            return fn(session)

    return await run_in_threadpool(call)


@dataclass
class ConsoleSession:
    """The session behind a request's cookie (adviser None: not signed in)."""

    id: str
    csrf_token: str
    adviser: Adviser | None
    token: str | None = None  # set only when the session was just created
    # what the adviser may see (bot.db.repositories.access); None if signed out
    scope: access.Scope | None = None


def new_session(
    session: Session, *, adviser_id: int | None, ttl: timedelta
) -> ConsoleSession:
    """Create a session with a fresh token and CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = repo.add_session(
        session,
        session_id=token_hash(token),
        adviser_id=adviser_id,
        csrf_token=csrf,
        expires_at=utcnow() + ttl,
    )
    return ConsoleSession(id=row.id, csrf_token=csrf, adviser=None, token=token)


def _expiry(created_at: datetime, now: datetime) -> datetime:
    return min(created_at + ABSOLUTE_TTL, now + IDLE_TTL)


VISITOR_PREFIX = "v."


def _visitor_csrf(token: str) -> str:
    key = get_settings().session_secret.get_secret_value().encode()
    digest = hmac.new(key, b"console-visitor:" + token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def visitor_session() -> ConsoleSession:
    """Return pre-login state for the sign-in form, with no row in the database.

    The cookie holds ``v.<time>.<random>`` and the form's CSRF token is its HMAC
    under the session secret: a site that cannot read the (HttpOnly) cookie
    cannot forge the token, and a visit to the login page writes nothing
    (a server-side session is made only at sign-in). Valid for VISITOR_TTL.
    """
    token = f"{VISITOR_PREFIX}{int(time.time())}.{secrets.token_urlsafe(24)}"
    return ConsoleSession(
        id="", csrf_token=_visitor_csrf(token), adviser=None, token=token
    )


def _visitor(token: str) -> ConsoleSession | None:
    _, _, rest = token.partition(VISITOR_PREFIX)
    made, _, _ = rest.partition(".")
    if not made.isdigit():
        return None
    age = time.time() - int(made)
    if not 0 <= age <= VISITOR_TTL.total_seconds():
        return None
    return ConsoleSession(id="", csrf_token=_visitor_csrf(token), adviser=None)


async def current_session(request: Request) -> ConsoleSession | None:
    """Return the request's live session, if its cookie names one."""
    if "console_session" in request.state._state:
        return request.state.console_session  # type: ignore[no-any-return]
    token = request.cookies.get(COOKIE_NAME)
    found: ConsoleSession | None = None
    if token and len(token) <= 128 and token.startswith(VISITOR_PREFIX):
        found = _visitor(token)
    elif token and len(token) <= 128:

        def load(session: Session) -> ConsoleSession | None:
            now = utcnow()
            loaded = repo.load_session(session, session_id=token_hash(token), now=now)
            if loaded is None:
                return None
            row, adviser = loaded
            if adviser is not None and now - row.last_seen_at > TOUCH_EVERY:
                repo.touch_session(
                    session,
                    session_id=row.id,
                    now=now,
                    expires_at=_expiry(row.created_at, now),
                )
            return ConsoleSession(
                id=row.id,
                csrf_token=row.csrf_token,
                adviser=adviser,
                scope=access.scope_for(session, adviser) if adviser else None,
            )

        found = await run_db(load)
    request.state.console_session = found
    return found


def base_path(request: Request) -> str:
    """Return the path the console is mounted at ('' at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def secure_cookies() -> bool:
    """Return whether cookies get ``Secure`` (the public URL is https)."""
    return get_settings().public_url.lower().startswith("https://")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Lax, Secure behind TLS."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=base_path(request) or "/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE_NAME,
        path=base_path(request) or "/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(),
    )


_SAFE_NEXT = re.compile(r"^/[A-Za-z0-9/_\-]*$")


def safe_next(request: Request, target: str | None) -> str:
    """Return ``target`` if it is a console path, else the queue (no open redirect)."""
    base = base_path(request)
    if (
        target
        and _SAFE_NEXT.match(target)
        and "//" not in target
        and target.startswith(base + "/")
        and not target.startswith(base + "/login")
    ):
        return target
    return base + "/"


def wants_html(request: Request) -> bool:
    """Return whether the client is a browser navigating (not fetch or SSE)."""
    return "text/html" in request.headers.get("accept", "")


def deny(request: Request) -> Response:
    """Answer a request that needs a signed-in adviser."""
    if request.method in ("GET", "HEAD") and wants_html(request):
        path = request.url.path
        login = base_path(request) + "/login"
        if safe_next(request, path) == path and path != base_path(request) + "/":
            login += "?next=" + path
        return RedirectResponse(login, status_code=303)
    return PlainTextResponse("Sign in required", status_code=401)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def guard(
    *, login: bool = True, before_new_password: bool = False
) -> Callable[[Endpoint], Endpoint]:
    """Wrap an endpoint: require a signed-in adviser and, on POST, a CSRF check.

    An adviser still on the initial password an admin was shown reaches only
    the endpoints marked ``before_new_password`` (choosing a new one, signing
    out) until they have chosen their own.
    """

    def decorate(func: Endpoint) -> Endpoint:
        @functools.wraps(func)
        async def endpoint(request: Request) -> Response:
            session = await current_session(request)
            if login and (session is None or session.adviser is None):
                return deny(request)
            if (
                login
                and not before_new_password
                and session is not None
                and session.adviser is not None
                and session.adviser.must_change_password
            ):
                return _new_password_first(request)
            if request.method not in SAFE_METHODS:
                problem = await csrf.problem(request, session)
                if problem:
                    log.warning("console CSRF check failed: %s", problem)
                    return PlainTextResponse(
                        "Forbidden: the form was stale or came from another site. "
                        "Go back, reload the page and try again.",
                        status_code=403,
                    )
            conversation_id = request.path_params.get("conversation_id")
            if login and conversation_id is not None:
                if not await _may_see(request, str(conversation_id)):
                    return conversation_not_found(request)
            return await func(request)

        endpoint.console_login_required = login  # type: ignore[attr-defined]
        return endpoint

    return decorate


def _new_password_first(request: Request) -> Response:
    """Send an adviser on an initial password to choose their own."""
    if request.method in ("GET", "HEAD") and wants_html(request):
        return RedirectResponse(base_path(request) + "/password", status_code=303)
    return PlainTextResponse(
        "Choose your own password first (the console's Password page).",
        status_code=403,
    )


async def _may_see(request: Request, conversation_id: str) -> bool:
    """Whether the signed-in adviser may see the conversation (it exists and is
    routed to one of their organisations): the check behind every console
    route with a ``conversation_id`` in its path."""
    scope = scope_of(request)
    if len(conversation_id) > 64:
        return False
    return await run_db(lambda db: access.can_see(db, scope, conversation_id))


def conversation_not_found(request: Request) -> Response:
    """Answer the same 404 for a conversation that is missing and one out of
    scope (every console route uses this one page)."""
    from bot.console.views import error_page  # views imports this module

    return error_page(
        request,
        404,
        "Conversation not found",
        "There is no conversation at this address.",
        back=base_path(request) + "/",
    )


def scope_of(request: Request) -> access.Scope:
    """Return what the signed-in adviser may see (only inside a guarded endpoint)."""
    session: ConsoleSession | None = request.state.console_session
    assert session is not None and session.adviser is not None
    if session.scope is None:  # a session made at sign-in, in this request
        session.scope = access.Scope(session.adviser.id)
    return session.scope


def adviser_of(request: Request) -> Adviser:
    """Return the signed-in adviser (only inside a guarded endpoint)."""
    session: ConsoleSession | None = request.state.console_session
    assert session is not None and session.adviser is not None
    return session.adviser


def client_ip(request: Request) -> str:
    """Return the client address the rate limit counts by."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class LoginResult:
    """What a sign-in attempt came to: ok (with the new session), failed, limited."""

    outcome: str
    session: ConsoleSession | None = None


def _reserve_attempt(
    session: Session, *, username: str, ip: str, since: datetime
) -> int | None:
    """Count this attempt as a failure *before* the password is checked, then
    see whether it is within the limits; return its row id, or None (limited).

    The row is committed on its own first, so concurrent attempts each see
    every earlier one: of 30 wrong passwords at once, at most MAX_FAILURES are
    checked (the count and the record were separate steps, and all 30 were).
    A limited attempt's row is taken back; a success clears them all.
    """
    bind = session.get_bind()
    with Session(bind=bind) as own, own.begin():
        row = LoginFailure(username=username, client_ip=ip)
        own.add(row)
        own.flush()
        row_id = row.id
    with Session(bind=bind) as own, own.begin():
        if (
            repo.count_login_failures(own, username=username, client_ip=ip, since=since)
            <= MAX_FAILURES
            and repo.count_failures_from(own, client_ip=ip, since=since)
            <= MAX_FAILURES_PER_ADDRESS
        ):
            return row_id
        own.execute(delete(LoginFailure).where(LoginFailure.id == row_id))
    return None


def attempt_login(
    session: Session,
    *,
    username: str,
    password: str,
    ip: str,
    old_session_id: str | None,
) -> LoginResult:
    """Check a sign-in, counting failures; on success replace the old session.

    The new session has a new token and CSRF token, and the visitor session
    the login form came with is deleted, so it can never be used again.
    """
    now = utcnow()
    since = now - FAILURE_WINDOW
    reserved = _reserve_attempt(session, username=username, ip=ip, since=since)
    if reserved is None:
        return LoginResult("limited")
    adviser = repo.find_adviser(session, username=username)
    usable = adviser is not None and adviser.active
    stored = adviser.password_hash if adviser is not None and usable else None
    matched = verify_password(stored or _dummy_hash(), password)
    if not (matched and stored and adviser is not None):
        return LoginResult("failed")  # the reserved attempt stays, as a failure
    repo.clear_login_failures(session, username=username, client_ip=ip)
    if _hasher.check_needs_rehash(stored):
        repo.set_password_hash(
            session, adviser_id=adviser.id, password_hash=_hasher.hash(password)
        )
    if old_session_id:
        repo.delete_session(session, session_id=old_session_id)
    repo.purge_expired(session, now=now, failures_before=since)
    adviser.last_sign_in_at = now  # shown to their organisation's admins
    fresh = new_session(session, adviser_id=adviser.id, ttl=IDLE_TTL)
    fresh.adviser = adviser
    return LoginResult("ok", fresh)


def login_required(endpoint: Any) -> bool:
    """Return whether a console endpoint demands a signed-in adviser."""
    return bool(getattr(endpoint, "console_login_required", False))
