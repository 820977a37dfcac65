"""'Is this wrong?': a person's one-click report of a directory entry, queued."""

from __future__ import annotations

import json
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import Conversation, DirectoryReport, Organisation
from bot.i18n import text

# The quick reply's payload: it never reaches Rasa (the gateway answers it).
PAYLOAD_PREFIX = "/directory_report"
_PAYLOAD_RE = re.compile(r"^/directory_report(\{.{0,400}\})$")
MAX_IDS = 6


def report_button(
    organisation_ids: list[str], lang: str | None = None
) -> dict[str, str]:
    """Return the "Is this wrong?" quick reply for the organisations shown."""
    ids = list(dict.fromkeys(organisation_ids))[:MAX_IDS]
    body = json.dumps({"organisation_ids": ids}, separators=(",", ":"))
    payload = PAYLOAD_PREFIX + body
    return {"title": text("directory.report_button", lang), "payload": payload}


def parse_payload(payload: str | None) -> list[str] | None:
    """Return the organisation ids of a report payload; None if it is not one."""
    if not payload or not payload.startswith(PAYLOAD_PREFIX):
        return None
    m = _PAYLOAD_RE.match(payload.strip())
    if m is None:
        return []
    try:
        data = json.loads(m.group(1))
    except ValueError:
        return []
    ids = data.get("organisation_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        return []
    return [i for i in ids if isinstance(i, str) and 0 < len(i) <= 16][:MAX_IDS]


def record_report(
    session: Session,
    *,
    conversation_id: str,
    organisation_ids: list[str],
    channel: str | None,
) -> list[DirectoryReport]:
    """Queue one report per known organisation, with the conversation's area."""
    conv = session.get(Conversation, conversation_id)
    known = set(
        session.scalars(
            select(Organisation.id).where(Organisation.id.in_(organisation_ids))
        )
    )
    rows = [
        DirectoryReport(
            organisation_id=oid,
            conversation_id=conversation_id,
            lad_code=conv.lad_code if conv else None,
            place_name=conv.place_name if conv else None,
            channel=channel,
            created_at=utcnow(),
            status="open",
        )
        for oid in organisation_ids
        if oid in known
    ]
    session.add_all(rows)
    session.flush()
    return rows


def reply_text(recorded: bool, lang: str | None = None) -> str:
    """Return the answer to the person who pressed "Is this wrong?"."""
    return text(
        "directory.report_thanks" if recorded else "directory.report_unknown", lang
    )


def open_reports(session: Session, *, limit: int = 200) -> list[DirectoryReport]:
    """Return the reports waiting for an operator, oldest first."""
    return list(
        session.scalars(
            select(DirectoryReport)
            .where(DirectoryReport.status == "open")
            .order_by(DirectoryReport.id)
            .limit(limit)
        )
    )


def resolve_report(session: Session, *, report_id: int, actor: str) -> bool:
    """Mark a report dealt with; False if it was not open."""
    row = session.get(DirectoryReport, report_id)
    if row is None or row.status != "open":
        return False
    row.status, row.resolved_by, row.resolved_at = "resolved", actor, utcnow()
    session.flush()
    return True
