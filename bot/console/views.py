"""Rendering console pages: the Jinja environment (autoescaped) and its filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from bot.console.auth import base_path
from bot.db.base import utcnow
from bot.settings import get_settings

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Fixed texts for ?notice=...: nothing from the query string reaches the page.
NOTICES = {
    "claimed": "You picked up this conversation.",
    "released": "The conversation is back in the queue.",
    "resolved": "The conversation is resolved.",
    "handed_back": "The conversation is back with the bot.",
    "handed_back_unconfirmed": (
        "The conversation is back with the bot, but the bot is not reachable "
        "right now. It will be woken at the person's next message; if it is "
        "still down then, the person is told and the conversation comes back "
        "to the queue."
    ),
    "replied": "Your reply is on its way: the transcript shows when it is delivered.",
    "retrying": "Sending your reply again.",
    "noted": "Your note was added. The person does not see notes.",
    "signed_out": "You have signed out.",
    "corrected": "Your correction is saved; the reports use it.",
    "assigned": "The conversation is assigned.",
    "taken_over": "You took the conversation over.",
    "transferred": "The conversation is in the other organisation's queue now.",
    "availability": "Your availability is updated.",
    "saved_reply": "Your saved reply is stored.",
    "saved_reply_deleted": "The saved reply is deleted.",
    "emailed": "Your email is on its way: the transcript shows when it is sent.",
    "adviser_added": "The adviser is added to the organisation.",
    "role_changed": "The adviser's role is changed.",
    "adviser_removed": "The adviser is removed from the organisation.",
    "password_changed": "Your new password is saved.",
}

STATUS_TEXT = {
    "bot": "With the bot",
    "queued": "Waiting for an adviser",
    "assigned": "Picked up",
    "resolved": "Resolved",
}


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().adviser_timezone)


def when(value: datetime | None) -> str:
    """Format a timestamp in the advisers' time zone."""
    if value is None:
        return "unknown"
    return value.astimezone(_zone()).strftime("%a %d %b %Y, %H:%M")


def iso(value: datetime | None) -> str:
    """Format a timestamp for a <time datetime> attribute."""
    return value.isoformat(timespec="seconds") if value else ""


def waited(value: datetime | None) -> str:
    """Say how long ago ``value`` was, roughly ("25 min", "3 h 5 min")."""
    if value is None:
        return "for an unknown time"
    minutes = max(0, int((utcnow() - value).total_seconds() // 60))
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def band(value: datetime | None) -> str:
    """Return the waiting-time band of a queued conversation: ok, amber or red.

    The targets are settings (CONSOLE_WAIT_AMBER_MINUTES, CONSOLE_WAIT_RED_MINUTES).
    """
    if value is None:
        return "ok"
    settings = get_settings()
    minutes = (utcnow() - value).total_seconds() / 60
    if minutes >= settings.console_wait_red_minutes:
        return "red"
    if minutes >= settings.console_wait_amber_minutes:
        return "amber"
    return "ok"


def band_text(value: datetime | None) -> str:
    """Say in words how a waiting time compares with the targets."""
    settings = get_settings()
    found = band(value)
    if found == "red":
        return f"over {settings.console_wait_red_minutes} min: answer now"
    if found == "amber":
        return f"over the {settings.console_wait_amber_minutes} min target"
    return "within target"


def percent(value: float | None) -> str:
    """Format an NLU confidence as a percentage."""
    return "" if value is None else f"{value:.0%}"


def words(value: str | None) -> str:
    """Turn an identifier ("trustee_duties") into words ("trustee duties")."""
    return (value or "").replace("_", " ")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the code: no stat() per include
    )
    env.filters.update(
        when=when,
        iso=iso,
        waited=waited,
        percent=percent,
        words=words,
        band=band,
        band_text=band_text,
    )
    env.globals.update(status_text=STATUS_TEXT)
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a template with what every console page needs."""
    session = getattr(request.state, "console_session", None)
    notice_key = request.query_params.get("notice", "")
    full: dict[str, Any] = {
        "base": base_path(request),
        "adviser": session.adviser if session else None,
        "is_admin": bool(session and session.scope and session.scope.is_admin),
        "csrf_token": session.csrf_token if session else "",
        "notice": NOTICES.get(notice_key, ""),
    }
    full.update(context or {})
    return templates.TemplateResponse(request, name, full, status_code=status_code)


def error_page(
    request: Request,
    status_code: int,
    title: str,
    message: str,
    back: str | None = None,
) -> HTMLResponse:
    """Render an error page that says what happened and where to go."""
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "back": back},
        status_code=status_code,
    )


def see_other(url: str) -> RedirectResponse:
    """Redirect after a POST (303), so a reload does not post again."""
    return RedirectResponse(url, status_code=303)


def conversation_url(request: Request, conversation_id: str, notice: str = "") -> str:
    """Return the path of a conversation's page, with an optional notice."""
    url = f"{base_path(request)}/conversations/{quote(conversation_id, safe='')}"
    return url + (f"?notice={notice}" if notice else "")


async def form_text(request: Request, name: str) -> str:
    """Return a form field, stripped ('' when missing)."""
    value = (await request.form()).get(name)
    return value.strip() if isinstance(value, str) else ""
