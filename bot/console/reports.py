"""The console's Reports page, its printable report and its downloads.

Scoped like the rest of the console: an adviser of a local organisation sees its
areas only; an adviser of a national body (or of no organisation: the Front Door
team) sees all and may pick any organisation. The page itself shows exact
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

from bot.console.auth import adviser_of, base_path, guard, run_db
from bot.console.views import render
from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
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
    organisation_id: str | None
    fixed: bool  # the adviser's own organisation: no other can be chosen
    error: str = ""

    def query(self) -> str:
        """The query string that asks for this report again."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.organisation_id and not self.fixed:
            params["organisation"] = self.organisation_id
        return urlencode(params)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def own_scope(db: Session, adviser: Adviser) -> str | None:
    """The organisation whose areas the adviser is limited to (None: all)."""
    if adviser.organisation_id is None:
        return None
    org = db.get(Organisation, adviser.organisation_id)
    if org is None or org.is_national:
        return None
    return org.id


def choose(db: Session, request: Request, adviser: Adviser) -> Choice:
    """Read the period and organisation from the query, within the scope."""
    today = utcnow().astimezone(ZoneInfo(get_settings().adviser_timezone)).date()
    params = request.query_params
    start = _day(params.get("from")) or today.replace(day=1)
    end = _day(params.get("to")) or today
    error = ""
    if end < start:
        start, end, error = end, start, "The period was the wrong way round."
    if (end - start).days > MAX_DAYS:
        start, error = end - timedelta(days=MAX_DAYS), "At most two years at once."
    own = own_scope(db, adviser)
    if own is not None:
        return Choice(start, end, own, fixed=True, error=error)
    wanted = params.get("organisation") or None
    if wanted is not None and db.get(Organisation, wanted[:16]) is None:
        wanted, error = None, "There is no such organisation: showing all areas."
    return Choice(start, end, wanted, fixed=False, error=error)


def _organisations(db: Session) -> list[tuple[str, str]]:
    """Organisations that have conversations, for the picker."""
    used = select(ConversationFacts.organisation_id).distinct()
    rows = db.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.id.in_(used))
        .order_by(Organisation.name)
    ).tuples()
    return list(rows)


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
    adviser = adviser_of(request)

    def load(db: Session) -> dict[str, Any]:
        choice = choose(db, request, adviser)
        figures = report_figures.build(
            db,
            start=choice.start,
            end=choice.end,
            organisation_id=choice.organisation_id,
        )
        data: dict[str, Any] = {"choice": choice, "figures": figures}
        if page:
            scope = report_figures.scope_for(db, choice.organisation_id)
            ids = [
                f.conversation_id
                for f in report_figures.load_facts(
                    db, start=choice.start, end=choice.end, scope=scope
                )
            ]
            data["organisations"] = [] if choice.fixed else _organisations(db)
            data["comments"] = _comments(db, ids)
            # the wording of people's questions is for the Front Door team only
            data["questions"] = _unsure_questions(db, ids) if not choice.fixed else []
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
            "organisations": data["organisations"],
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
