"""The console's Reports page, its printable report and its downloads.

Scoped like the rest of the console, by its one rule
(``bot.db.repositories.access``) applied to the anonymous facts: an adviser sees
the conversations routed to their organisations (and may pick one of them); a
national role sees every area and may pick any organisation. The page itself shows exact
figures (it is the organisation's own advisers reading them); the printable
report and the CSV and JSON downloads are for sharing, so counts under 5 are
shown as "<5" there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import base_path, guard, run_db, scope_of
from bot.console.views import render
from bot.db.base import utcnow
from bot.db.models import (
    ConversationFacts,
    Message,
    MessageType,
    Organisation,
)
from bot.reports import figures as report_figures
from bot.reports import render as report_render
from bot.reports.ratings import COMMENT_INTENT
from bot.settings import get_settings

MAX_DAYS = 731  # two years at most in one report
COMMENTS_SHOWN = 20
QUESTIONS_SHOWN = 15


@dataclass(frozen=True)
class Choice:
    """What the adviser asked for, after the scope rules."""

    start: date
    end: date
    scope: report_figures.Scope
    everything: bool  # the adviser may see every area (a national role)
    choices: list[tuple[str, str]]  # organisations they may pick
    error: str = ""

    @property
    def organisation_id(self) -> str | None:
        return self.scope.organisation_id

    def query(self) -> str:
        """The query string that asks for this report again."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.scope.organisation_id:
            params["organisation"] = self.scope.organisation_id
        return urlencode(params)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def choose(db: Session, request: Request) -> Choice:
    """Read the period and organisation from the query, within the adviser's
    scope (the console's one rule: ``bot.db.repositories.access``)."""
    today = utcnow().astimezone(ZoneInfo(get_settings().adviser_timezone)).date()
    params = request.query_params
    start = _day(params.get("from")) or today.replace(day=1)
    end = _day(params.get("to")) or today
    error = ""
    if end < start:
        start, end, error = end, start, "The period was the wrong way round."
    if (end - start).days > MAX_DAYS:
        start, error = end - timedelta(days=MAX_DAYS), "At most two years at once."
    rule = scope_of(request)
    wanted = (params.get("organisation") or "")[:16] or None
    if rule.everything:
        choices = _organisations(db)
        if wanted is not None and db.get(Organisation, wanted) is None:
            wanted, error = None, "There is no such organisation: showing all areas."
        scope = report_figures.scope_for(db, wanted)
        return Choice(start, end, scope, True, choices, error)
    own = _organisations(db, only=rule.organisation_ids)
    if wanted is not None and wanted in rule.organisation_ids:
        scope = report_figures.scope_for(db, wanted)
    else:
        scope = report_figures.adviser_scope(db, rule)
    return Choice(start, end, scope, False, own if len(own) > 1 else [], error)


def _organisations(
    db: Session, only: frozenset[str] | None = None
) -> list[tuple[str, str]]:
    """Organisations for the picker: the adviser's own, or (every area) those
    conversations were routed to."""
    query = select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if only is not None:
        query = query.where(Organisation.id.in_(sorted(only)))
    else:
        used = select(ConversationFacts.organisation_id).distinct()
        query = query.where(Organisation.id.in_(used))
    return list(db.execute(query).tuples())


def _comments(db: Session, rows: list[str]) -> list[dict[str, Any]]:
    """Rating comments still held (erased ones are gone with their messages)."""
    if not rows:
        return []
    found = db.execute(
        select(Message.content, Message.created_at, ConversationFacts.rating)
        .join(
            ConversationFacts,
            ConversationFacts.conversation_id == Message.conversation_id,
        )
        .where(
            Message.conversation_id.in_(rows),
            Message.message_type == MessageType.INCOMING,
            Message.intent == COMMENT_INTENT,
        )
        .order_by(Message.id.desc())
        .limit(COMMENTS_SHOWN)
    ).tuples()
    return [{"text": t, "at": at, "rating": r} for t, at, r in found]


def _unsure_questions(db: Session, rows: list[str]) -> list[dict[str, Any]]:
    """The person's messages the assistant was least sure about, still held."""
    if not rows:
        return []
    found = db.execute(
        select(Message.content, Message.intent, Message.confidence)
        .where(
            Message.conversation_id.in_(rows),
            Message.message_type == MessageType.INCOMING,
            Message.confidence.is_not(None),
            Message.confidence < report_figures.UNSURE_BELOW,
        )
        .order_by(Message.confidence, Message.id)
        .limit(QUESTIONS_SHOWN)
    ).tuples()
    return [{"text": t, "intent": i, "confidence": c} for t, i, c in found]


def _load(request: Request, *, page: bool) -> Any:
    def load(db: Session) -> dict[str, Any]:
        choice = choose(db, request)
        figures = report_figures.build(
            db, start=choice.start, end=choice.end, scope=choice.scope
        )
        data: dict[str, Any] = {"choice": choice, "figures": figures}
        if page:
            ids = [
                f.conversation_id
                for f in report_figures.load_facts(
                    db, start=choice.start, end=choice.end, scope=choice.scope
                )
            ]
            data["comments"] = _comments(db, ids)
            # the wording of people's questions is for the Front Door team only
            data["questions"] = _unsure_questions(db, ids) if choice.everything else []
        return data

    return load


@guard()
async def reports_page(request: Request) -> Response:
    """Show the report for a period: figures, charts, comments and downloads."""
    data = await run_db(_load(request, page=True))
    choice: Choice = data["choice"]
    return render(
        request,
        "reports.html",
        {
            "page": "reports",
            "choice": choice,
            "report": report_render.body(data["figures"]),
            "comments": data["comments"],
            "questions": data["questions"],
            "query": choice.query(),
        },
    )


@guard()
async def report_print(request: Request) -> Response:
    """The printable report (counts under 5 shown as "<5")."""
    data = await run_db(_load(request, page=False))
    shared = report_figures.suppress(data["figures"])
    html = report_render.to_html(
        shared, stylesheet=base_path(request) + "/reports/report.css"
    )
    return Response(html, media_type="text/html; charset=utf-8")


def _download(data: dict[str, Any], fmt: str) -> Response:
    choice: Choice = data["choice"]
    shared = report_figures.suppress(data["figures"])
    name = f"frontdoor-report-{choice.start}-{choice.end}"
    if choice.organisation_id:
        name += f"-{choice.organisation_id}"
    media = "text/csv" if fmt == "csv" else "application/json"
    return Response(
        report_render.render(shared, fmt),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@guard()
async def report_csv(request: Request) -> Response:
    """Download the figures as CSV (counts under 5 shown as "<5")."""
    return _download(await run_db(_load(request, page=False)), "csv")


@guard()
async def report_json(request: Request) -> Response:
    """Download the figures as JSON (counts under 5 shown as "<5")."""
    return _download(await run_db(_load(request, page=False)), "json")


@guard()
async def report_css(request: Request) -> Response:
    """The report's style sheet (the console's CSP allows no inline styles)."""
    return Response(
        report_render.CSS_PATH.read_text(encoding="utf-8"),
        media_type="text/css; charset=utf-8",
    )


# (path, endpoint, method, name) rows for the console's route table
ROUTES: list[tuple[str, Any, str, str]] = [
    ("/reports", reports_page, "GET", "console_reports"),
    ("/reports/print", report_print, "GET", "console_report_print"),
    ("/reports/report.csv", report_csv, "GET", "console_report_csv"),
    ("/reports/report.json", report_json, "GET", "console_report_json"),
    ("/reports/report.css", report_css, "GET", "console_report_css"),
]
