"""A subject access request: everything held about a person, as JSON or HTML.

Per conversation: its channel and dates, the contact email and Telegram id,
the place and council area, topic, status and outcome; every message in both
directions with its time (and the adviser's name for their replies); the
advisers' internal notes about them; the hand-overs with their summaries; the
delivery state of each reply; and what Rasa's tracker store holds (the slots it
filled, the intents it read). Nothing is left out for being internal.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
    Conversation,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Outbox,
)
from bot.privacy import audit, stores

FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _tracker(session: Session, conversation_id: str) -> dict[str, Any]:
    """Slots and intents from Rasa's stored events (its own copy of the talk)."""
    slots: dict[str, Any] = {}
    intents: list[str] = []
    texts: list[dict[str, Any]] = []
    events = stores.tracker_events(session, conversation_id)
    for row in events:
        try:
            data = json.loads(str(row.get("data") or "{}"))
        except ValueError:
            continue
        kind = row.get("type_name")
        if kind == "slot" and data.get("name"):
            slots[str(data["name"])] = data.get("value")
        elif kind == "user":
            if row.get("intent_name"):
                intents.append(str(row["intent_name"]))
            if data.get("text"):
                texts.append({"from": "person", "text": data["text"]})
        elif kind == "bot" and data.get("text"):
            texts.append({"from": "bot", "text": data["text"]})
    return {
        "events": len(events),
        "slots": {k: v for k, v in slots.items() if v is not None},
        "intents": intents,
        "messages": texts,
    }


KNOWN_TABLES = {"messages", "handoffs", "outbox"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def _other_records(session: Session, conversation_id: str) -> dict[str, Any]:
    """Rows of any other table that refers to the conversation or its messages
    (a channel's profile of the person, its own message details...), whole."""
    found: dict[str, Any] = {}
    message_ids = select(Message.id).where(Message.conversation_id == conversation_id)
    for parent, key in (
        (Conversation.__table__, conversation_id),
        (Message.__table__, None),
    ):
        assert isinstance(parent, Table)
        for child, fk_column, _referred in stores._children(parent):
            if child.name in KNOWN_TABLES or child.name in found:
                continue
            where = fk_column == key if key is not None else fk_column.in_(message_ids)
            rows = [
                {k: _plain(v) for k, v in row.items()}
                for row in session.execute(select(child).where(where)).mappings()
            ]
            if rows:
                found[child.name] = rows
    return found


def conversation_record(session: Session, conversation_id: str) -> dict[str, Any]:
    """Return everything held about one conversation."""
    c = session.get(Conversation, conversation_id)
    if c is None:
        raise LookupError(conversation_id)
    lad = session.get(LocalAuthority, c.lad_code) if c.lad_code else None
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        )
    )
    names = dict(
        session.execute(
            select(Adviser.id, Adviser.display_name).where(
                Adviser.id.in_({m.adviser_id for m in rows if m.adviser_id})
            )
        )
        .tuples()
        .all()
    )
    delivery = dict(
        session.execute(
            select(Outbox.message_id, Outbox.state).where(
                Outbox.conversation_id == conversation_id
            )
        )
        .tuples()
        .all()
    )

    def line(m: Message) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "at": _iso(m.created_at),
            "from": m.sender,
            "text": m.content,
        }
        if m.adviser_id:
            entry["adviser"] = names.get(m.adviser_id)
        if m.buttons:
            entry["choices"] = [b.get("title") for b in m.buttons]
        if m.id in delivery:
            entry["delivery"] = delivery[m.id].value
        if m.urgent:
            entry["flagged_urgent"] = True
        return entry

    handoffs = session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id)
    )
    return {
        "conversation_id": c.id,
        "channel": c.channel,
        "telegram_user": c.channel_user_id if c.channel == stores.TELEGRAM else None,
        "started_at": _iso(c.created_at),
        "last_changed_at": _iso(c.updated_at),
        "status": c.status.value,
        "contact_email": c.contact_email,
        "place": c.place_name,
        "council_area": {"code": lad.code, "name": lad.name} if lad else None,
        "topic": c.topic,
        "subtopic": c.subtopic,
        "outcome": c.outcome,
        "anonymised_at": _iso(c.anonymised_at),
        "messages": [
            line(m)
            for m in rows
            if m.message_type in (MessageType.INCOMING, MessageType.OUTGOING)
        ],
        "notes_by_advisers": [
            line(m) for m in rows if m.message_type is MessageType.NOTE
        ],
        "activity": [line(m) for m in rows if m.message_type is MessageType.ACTIVITY],
        "handovers": [
            {
                "at": _iso(h.created_at),
                "reason": h.reason,
                "summary": h.summary,
                "place": h.place_name,
                "organisations": list(h.organisation_names or []),
                "last_messages": list(h.last_messages or []),
                "resolved_at": _iso(h.resolved_at),
                "outcome": h.outcome,
            }
            for h in handoffs
        ],
        "assistant_state": _tracker(session, c.id),
        "other_records": _other_records(session, c.id),
    }


def export(
    session: Session,
    conversation_ids: Sequence[str],
    *,
    by: str,
    asked_for: str,
    adviser_id: int | None = None,
) -> dict[str, Any]:
    """Return the export of these conversations and audit each one."""
    records = [conversation_record(session, cid) for cid in conversation_ids]
    for cid in conversation_ids:
        audit.record(
            session,
            action=audit.EXPORTED,
            actor=by,
            adviser_id=adviser_id,
            conversation_id=cid,
        )
    return {
        "format": FORMAT_VERSION,
        "service": "Front Door",
        "exported_at": _iso(utcnow()),
        "asked_for": asked_for,
        "conversations": records,
    }


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def to_html(data: dict[str, Any]) -> str:
    """Render an export as a readable, self-contained HTML page (all escaped)."""
    parts = [
        "<!doctype html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        "<title>What Front Door holds about you</title></head><body>",
        "<h1>What Front Door holds about you</h1>",
        f"<p>Exported {_e(data['exported_at'])} for {_e(data['asked_for'])}. "
        f"{len(data['conversations'])} conversation(s).</p>",
    ]
    for c in data["conversations"]:
        area = c["council_area"]["name"] if c["council_area"] else None
        parts.append(f"<h2>Conversation started {_e(c['started_at'])}</h2><dl>")
        for label, value in (
            ("Channel", c["channel"]),
            ("Telegram user", c["telegram_user"]),
            ("Contact email", c["contact_email"]),
            ("Place", c["place"]),
            ("Council area", area),
            ("Topic", c["topic"]),
            ("Status", c["status"]),
            ("Outcome", c["outcome"]),
            ("Reference", c["conversation_id"]),
        ):
            if value:
                parts.append(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>")
        parts.append("</dl>")
        for title, key in (
            ("Messages", "messages"),
            ("Advisers' notes about you", "notes_by_advisers"),
        ):
            if c[key]:
                parts.append(f"<h3>{_e(title)}</h3><ol>")
                for m in c[key]:
                    who = m.get("adviser") or m["from"]
                    parts.append(
                        f"<li><strong>{_e(who)}</strong>, {_e(m['at'])}: "
                        f"{_e(m['text'])}</li>"
                    )
                parts.append("</ol>")
        if c["handovers"]:
            parts.append("<h3>Passed to an adviser</h3><ul>")
            for h in c["handovers"]:
                parts.append(
                    f"<li>{_e(h['at'])}: {_e(h['reason'])}. {_e(h['summary'])}</li>"
                )
            parts.append("</ul>")
        slots = c["assistant_state"]["slots"]
        if slots:
            parts.append("<h3>What the assistant noted</h3><dl>")
            for name, value in slots.items():
                parts.append(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>")
            parts.append("</dl>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
