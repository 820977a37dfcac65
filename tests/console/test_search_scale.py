"""Search and the queue with 10,000 conversations (SQLite and PostgreSQL): the
right conversations found, resolved ones included, every filter applied."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.console.views import when
from bot.db.base import utcnow
from bot.db.models import Conversation, ConversationStatus, MessageType
from bot.db.session import session_scope
from scripts.console_seed import seed_conversations
from tests.console.conftest import Adviser, make_conversation

pytestmark = pytest.mark.integration

NEEDLE = "zebra crossing by the scout hut"


def _ids(html: str) -> list[str]:
    return re.findall(r'data-conversation="([^"]+)"', html)


async def _all_pages(adviser: Adviser, query: str) -> list[str]:
    found: list[str] = []
    for page in range(1, 400):
        html = (await adviser.client.get(f"/console/search?{query}&page={page}")).text
        found.extend(_ids(html))
        if "Next page" not in html:
            return found
    raise AssertionError("too many pages")


async def test_search_and_queue_with_ten_thousand_conversations(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    with session_scope(db_url) as s:
        seeded = seed_conversations(s, count=10_000)
    assert seeded.conversations == 10_000
    said = [(MessageType.INCOMING, "person", f"Is there funding for a {NEEDLE}?")]
    old = make_conversation(
        db_url, status=ConversationStatus.RESOLVED, messages=said, lad_code="E07000002"
    )
    waiting = make_conversation(db_url, messages=said, waited_minutes=3)
    with_bot = make_conversation(db_url, status=ConversationStatus.BOT, messages=said)
    long_ago = utcnow() - timedelta(days=200)
    with session_scope(db_url) as s:
        s.execute(
            update(Conversation)
            .where(Conversation.id == old)
            .values(created_at=long_ago, updated_at=long_ago)
        )

    # the words, whatever the status (resolved included), case-insensitively
    assert set(await _all_pages(adviser, "q=ZEBRA+crossing")) == {
        old,
        waiting,
        with_bot,
    }
    assert await _all_pages(adviser, "q=zebra+crossing&status=resolved") == [old]
    day = long_ago.date()
    dates = f"from={(day - timedelta(days=1)).isoformat()}&to={day.isoformat()}"
    assert await _all_pages(adviser, f"q=zebra&{dates}") == [old]
    assert await _all_pages(adviser, "q=zebra&place=Southdale") == [old]
    # SQL wildcards are taken literally
    assert await _all_pages(adviser, "q=%25%25") == []

    # place + status over the seeded rows: every match, and only matches
    with session_scope(db_url) as s:
        expected = set(
            s.scalars(
                select(Conversation.id).where(
                    Conversation.lad_code == "E07000002",
                    Conversation.status == ConversationStatus.QUEUED,
                )
            )
        )
        in_wales = set(
            s.scalars(
                select(Conversation.id).where(
                    (Conversation.lad_code == "W06000001")
                    | (Conversation.organisation_id == "lio901")
                )
            )
        )
        queued = s.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.status == ConversationStatus.QUEUED)
        )
    assert expected and queued and queued > 100
    assert set(await _all_pages(adviser, "place=Southdale&status=queued")) == expected
    first = (await adviser.client.get("/console/search?organisation=lio901")).text
    assert len(_ids(first)) == 50 and set(_ids(first)) <= in_wales
    assert "Next page" in first

    # the queue: 100 cards, the longest waiting first, and how many wait in all
    html = (await adviser.client.get("/console/")).text
    waiting_part = html.split('id="waiting-heading"')[1]
    shown = _ids(waiting_part)
    assert len(shown) == 100
    assert f'<span class="count">({queued})</span>' in waiting_part
    assert f"Showing the first 100 of {queued} waiting" in waiting_part
    with session_scope(db_url) as s:
        oldest = list(
            s.scalars(
                select(Conversation.id)
                .where(Conversation.status == ConversationStatus.QUEUED)
                .order_by(
                    Conversation.waiting_since, Conversation.created_at, Conversation.id
                )
                .limit(100)
            )
        )
    assert shown == oldest
    assert waiting not in shown  # three minutes is not among the longest
    assert when(long_ago)  # the timestamps format in the advisers' zone


async def test_earlier_conversations_of_the_same_person(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    first = make_conversation(
        db_url, status=ConversationStatus.RESOLVED, place_name="Oldtown"
    )
    second = make_conversation(db_url, channel="telegram")
    by_email = make_conversation(db_url, status=ConversationStatus.RESOLVED)
    stranger = make_conversation(db_url, channel="telegram")
    with session_scope(db_url) as s:
        for cid, user, email in (
            (first, "42", None),
            (second, "42", "Sam@Example.org"),
            (by_email, None, "sam@example.org"),
            (stranger, "43", None),
        ):
            s.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(
                    channel="telegram" if user else "web",
                    channel_user_id=user,
                    contact_email=email,
                )
            )
    page = (await adviser.client.get(f"/console/conversations/{second}")).text
    section = page.split('id="earlier-heading"')[1].split("</section>")[0]
    assert set(_ids_links(section)) == {first, by_email}
    assert "same Telegram account" in section and "same email address" in section
    assert stranger not in section
    assert "Sam@Example.org" in page  # the contact card shows the address


def _ids_links(html: str) -> list[str]:
    return re.findall(r'/conversations/([^"#?]+)"', html)
