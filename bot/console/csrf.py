"""CSRF defence for console forms: a synchroniser token and an Origin check."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request

from bot.settings import get_settings

if TYPE_CHECKING:
    from bot.console.auth import ConsoleSession

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def origin_of(url: str) -> str | None:
    """Return ``scheme://host[:port]`` of ``url``, lower-cased; None if not a URL."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def trusted_origins(request: Request) -> set[str]:
    """Return the origins a console form may be posted from: our own."""
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    public = origin_of(get_settings().public_url)
    return {own, public} if public else {own}


async def problem(request: Request, session: ConsoleSession | None) -> str | None:
    """Return why a state-changing request fails the CSRF check, or None if it passes.

    A browser sends Origin with every POST; when a client sends neither Origin nor
    Referer the token alone decides. The token is compared in constant time.
    """
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None:
        if origin.lower() not in trusted_origins(request):
            return "foreign origin"
    elif referer:
        if origin_of(referer) not in trusted_origins(request):
            return "foreign referer"
    if session is None:
        return "no session"
    sent = request.headers.get(HEADER)
    if not sent:
        form = await request.form()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        return "missing or wrong token"
    return None
