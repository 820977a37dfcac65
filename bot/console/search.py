"""The console's search page: every conversation, whatever its status."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import adviser_of, guard, run_db, scope_of
from bot.console.views import render
from bot.db.models import ConversationStatus
from bot.db.repositories import console as repo
from bot.db.repositories.console_search import SearchQuery, search
from bot.settings import get_settings


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    """Return the start of ``day`` in the advisers' time zone, as UTC."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(get_settings().adviser_timezone)
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def parse_query(params: Any) -> tuple[SearchQuery, dict[str, str]]:
    """Return the search asked for in the query string, and the form's values."""
    text = str(params.get("q", "")).strip()[:200]
    place = str(params.get("place", "")).strip()[:120]
    organisation = str(params.get("organisation", "")).strip()
    organisation_id = (
        organisation if organisation.isalnum() and len(organisation) <= 16 else None
    )
    status_value = str(params.get("status", ""))
    status = (
        ConversationStatus(status_value)
        if status_value in {s.value for s in ConversationStatus}
        else None
    )
    since, until = _day(str(params.get("from", ""))), _day(str(params.get("to", "")))
    query = SearchQuery(
        text=text,
        place=place,
        organisation_id=organisation_id,
        status=status,
        since=_start_of(since) if since else None,
        until=_start_of(until + timedelta(days=1)) if until else None,
    )
    form = {
        "q": text,
        "place": place,
        "organisation": organisation_id or "",
        "status": status.value if status else "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    return query, form


@guard()
async def search_page(request: Request) -> Response:
    """Search conversations by text, place, organisation, status and date."""
    query, form = parse_query(request.query_params)
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
    page = min(max(page, 1), 1000)
    adviser = adviser_of(request)
    scope = scope_of(request)

    def load(db: Session) -> dict[str, Any]:
        return {
            "results": None
            if query.empty
            else search(db, query=query, page=page, adviser_id=adviser.id, scope=scope),
            "organisations": repo.filter_choices(db, scope, areas=False).organisations,
        }

    context = await run_db(load)
    kept = {k: v for k, v in form.items() if v}
    return render(
        request,
        "search.html",
        {
            **context,
            "form": form,
            "page": "search",
            "statuses": [s.value for s in ConversationStatus],
            "next_query": urlencode({**kept, "page": page + 1}),
            "previous_query": urlencode({**kept, "page": page - 1}),
        },
    )
