"""Seed many conversations in bulk, for the console's scale tests and benchmark.

Synthetic rows in a throwaway database only (never a real one): districts and
organisations named "District 001" / "Organisation 001" unless the database
already has a directory, then conversations with messages and hand-overs, most
of them resolved, inserted with one executemany per table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Nation,
    Organisation,
    OrganisationArea,
)

TOPICS = {
    "funding": ["grants", "gift_aid", "crowdfunding", "bid_writing"],
    "governance": ["trustees", "agm", "registering", "policies"],
    "volunteering": ["recruiting", "checks", "expenses", "insurance"],
}
QUESTIONS = [
    "How do we find a grant for our {thing}?",
    "Can we claim Gift Aid on donations for the {thing}?",
    "We need new trustees for the {thing}, where do we start?",
    "Do our volunteers at the {thing} need DBS checks?",
    "How should we run our first AGM for the {thing}?",
    "Is there any funding to repair the {thing} roof?",
]
THINGS = [
    "village hall",
    "food bank",
    "youth football club",
    "lunch club",
    "community garden",
    "toddler group",
    "repair cafe",
    "choir",
]
STATUS_SHARE = [
    (ConversationStatus.QUEUED, 0.02),
    (ConversationStatus.ASSIGNED, 0.01),
    (ConversationStatus.BOT, 0.12),
    (ConversationStatus.RESOLVED, 0.85),
]


@dataclass
class Seeded:
    """What was seeded, so tests can look for it."""

    conversations: int = 0
    messages: int = 0
    lad_codes: list[str] = field(default_factory=list)
    organisation_ids: list[str] = field(default_factory=list)


def seed_directory(
    session: Session, *, districts: int = 360, organisations: int = 250
) -> None:
    """Add synthetic districts and organisations (when the directory is empty)."""
    if session.scalar(select(func.count()).select_from(LocalAuthority)):
        return
    session.execute(
        insert(LocalAuthority),
        [
            {
                "code": f"E0799{i:04d}",
                "name": f"District {i:03d}",
                "la_type": "Non-metropolitan district",
                "nation": Nation.ENGLAND,
                "county_code": f"E1099{i // 9:04d}",
                "county_name": f"County {i // 9:03d}",
                "alt_names": [],
            }
            for i in range(districts)
        ],
    )
    session.execute(
        insert(Organisation),
        [
            {
                "id": f"org{i:04d}",
                "name": f"Organisation {i:03d}",
                "kind": "CVS",
                "is_national": False,
                "nation": Nation.ENGLAND,
                "confidence": "high",
                "active": True,
            }
            for i in range(organisations)
        ],
    )
    session.execute(
        insert(OrganisationArea),
        [
            {
                "organisation_id": f"org{i % organisations:04d}",
                "lad_code": f"E0799{i:04d}",
            }
            for i in range(districts)
        ],
    )


def seed_conversations(
    session: Session, *, count: int, seed: int = 10, now: datetime | None = None
) -> Seeded:
    """Insert ``count`` conversations (messages, hand-overs) in bulk."""
    rng = random.Random(seed)  # noqa: S311 (synthetic test data)
    now = now or utcnow()
    lads = list(
        session.execute(select(LocalAuthority.code, LocalAuthority.name)).tuples()
    )
    orgs = list(
        session.scalars(
            select(Organisation.id).where(Organisation.is_national.is_(False))
        )
    )
    statuses = [s for s, _ in STATUS_SHARE]
    weights = [w for _, w in STATUS_SHARE]
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    emails = [f"person{i}@example.org" for i in range(max(1, count // 20))]
    for i in range(count):
        cid = f"seed-{seed}-{i:06d}"
        status = rng.choices(statuses, weights)[0]
        topic = rng.choice(list(TOPICS))
        subtopic = rng.choice(TOPICS[topic])
        lad, lad_name = rng.choice(lads) if lads else (None, None)
        created = now - timedelta(minutes=rng.randint(5, 365 * 24 * 60))
        waiting = (
            now - timedelta(minutes=rng.randint(1, 240))
            if status in (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
            else None
        )
        channel = rng.choice(["web", "web", "telegram"])
        conversations.append(
            {
                "id": cid,
                "channel": channel,
                "channel_user_id": None
                if channel == "web"
                else str(rng.randint(1, count)),
                "status": status,
                "waiting_since": waiting,
                "created_at": created,
                "updated_at": created + timedelta(minutes=rng.randint(1, 60)),
                "topic": topic,
                "subtopic": subtopic,
                "place_name": lad_name,
                "lad_code": lad,
                "organisation_id": rng.choice(orgs)
                if orgs and rng.random() < 0.1
                else None,
                "contact_email": rng.choice(emails) if rng.random() < 0.1 else None,
                "outcome": "answered"
                if status is ConversationStatus.RESOLVED
                else None,
                "urgent": False,
                "bot_paused": status is not ConversationStatus.BOT,
            }
        )
        question = rng.choice(QUESTIONS).format(thing=rng.choice(THINGS))
        said = [
            (MessageType.INCOMING, "person", question, topic),
            (
                MessageType.OUTGOING,
                "bot",
                "This guidance should help: https://www.ncvo.org.uk/help-and-guidance/",
                None,
            ),
            (
                MessageType.INCOMING,
                "person",
                "I'd like to talk to a person",
                "request_human",
            ),
        ]
        if status is ConversationStatus.RESOLVED:
            said.append(
                (
                    MessageType.OUTGOING,
                    "adviser",
                    "Thanks, I have sent you the forms.",
                    None,
                )
            )
        for offset, (kind, sender, text, intent) in enumerate(said):
            messages.append(
                {
                    "conversation_id": cid,
                    "message_type": kind,
                    "sender": sender,
                    "content": text,
                    "channel": channel,
                    "intent": intent,
                    "confidence": 0.9 if intent else None,
                    "created_at": created + timedelta(seconds=offset * 30),
                    "urgent": False,
                }
            )
        if status is not ConversationStatus.BOT:
            handoffs.append(
                {
                    "conversation_id": cid,
                    "reason": "asked_for_person",
                    "topic": topic,
                    "subtopic": subtopic,
                    "place_name": lad_name,
                    "lad_code": lad,
                    "organisation_names": [],
                    "summary": "",
                    "last_messages": [],
                    "created_at": created + timedelta(minutes=2),
                    "resolved_at": None
                    if status is not ConversationStatus.RESOLVED
                    else created + timedelta(minutes=30),
                    "outcome": None,
                }
            )
    for table, rows in (
        (Conversation, conversations),
        (Message, messages),
        (Handoff, handoffs),
    ):
        for start in range(0, len(rows), 5000):
            session.execute(insert(table), rows[start : start + 5000])
    return Seeded(
        conversations=len(conversations),
        messages=len(messages),
        lad_codes=[code for code, _ in lads],
        organisation_ids=orgs,
    )
