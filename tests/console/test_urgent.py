"""Urgent conversations in the console: first in the queue with a marker in words,
flagged messages in the transcript, and the urgency ending with the hand-over."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.conversations import service
from bot.db.models import Conversation, ConversationStatus, Message, MessageType
from bot.db.repositories import console as repo
from bot.db.repositories import conversations as conversations_repo
from bot.db.session import session_scope
from bot.domain.handoff import Transition
from bot.domain.safety import URGENT_ACTIVITY_TEXT
from tests.console.conftest import Adviser, make_conversation

pytestmark = pytest.mark.integration


def _order(html: str) -> list[str]:
    return re.findall(r'data-conversation="([^"]+)"', html)


def _card(html: str, cid: str) -> str:
    return html.split(f'data-conversation="{cid}"', 1)[1].split('<li class="card')[0]


def _raise(db_url: str, cid: str, *, message_text: str | None = None) -> bool:
    """Raise ``cid`` to urgent as the gateway's risk check does."""
    with session_scope(db_url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        if message_text is not None:
            message = s.scalars(
                select(Message).where(
                    Message.conversation_id == cid, Message.content == message_text
                )
            ).one()
            conversations_repo.mark_message_urgent(s, message_id=message.id)
        return service.mark_urgent(s, conversation_id=conversation.id)


async def test_urgent_conversations_come_first_with_a_marker_in_words(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    oldest = make_conversation(db_url, waited_minutes=90)
    older = make_conversation(db_url, waited_minutes=50)
    urgent_later = make_conversation(db_url, waited_minutes=1, place_name="Southdale")
    urgent_first = make_conversation(db_url, waited_minutes=2)
    assert _raise(db_url, urgent_first)
    assert _raise(db_url, urgent_later)
    assert not _raise(db_url, urgent_later)  # once is enough
    html = (await adviser.client.get("/console/")).text
    assert _order(html) == [urgent_first, urgent_later, oldest, older]
    assert (
        'Waiting, urgent first, then the longest waiting <span class="count">'
        "(4, 2 urgent)</span>" in html
    )
    card = _card(html, urgent_first)
    assert 'data-urgent="yes"' in card
    assert '<span class="urgent-tag">Urgent</span> Funding: grants' in card
    assert "Urgent, check first:</strong> someone may be at risk now" in card
    assert "the urgent conversation about Funding" in card  # the Pick up button
    plain = _card(html, oldest)
    assert "urgent" not in plain.lower()
    fragment = (await adviser.client.get("/console/queue/items")).text
    assert _order(fragment) == [urgent_first, urgent_later, oldest, older]


async def test_urgent_first_among_my_conversations_too(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    mine_old = make_conversation(
        db_url,
        status=ConversationStatus.ASSIGNED,
        assignee_id=adviser.id,
        waited_minutes=60,
    )
    mine_urgent = make_conversation(
        db_url,
        status=ConversationStatus.ASSIGNED,
        assignee_id=adviser.id,
        waited_minutes=5,
    )
    assert _raise(db_url, mine_urgent)
    html = (await adviser.client.get("/console/")).text
    mine_part = html.split('id="waiting-heading"')[0]
    assert _order(mine_part) == [mine_urgent, mine_old]


async def test_the_transcript_flags_the_urgent_message_and_the_activity(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url,
        messages=[
            (MessageType.INCOMING, "person", "Can I talk to a person please?"),
            (MessageType.INCOMING, "person", "A girl here says her dad hits her"),
        ],
    )
    assert _raise(db_url, cid, message_text="A girl here says her dad hits her")
    html = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert '<span class="urgent-tag">Urgent</span> Funding: grants' in html  # h1
    assert "Urgent, check first:</strong> someone may be at risk now" in html
    assert 'data-urgent="yes"' in html  # the status panel and the message
    flagged = re.findall(
        r'<li class="msg msg-incoming from-person msg-urgent"[^>]*>.*?</li>',
        html,
        re.S,
    )
    assert len(flagged) == 1
    assert "A girl here says her dad hits her" in flagged[0]
    assert "Urgent: someone may be at risk" in flagged[0]
    assert URGENT_ACTIVITY_TEXT in html


@pytest.mark.parametrize("transition", [Transition.RESOLVE, Transition.HAND_BACK])
async def test_urgency_ends_with_the_hand_over(
    adviser: Adviser, db_url: str, directory: dict[str, str], transition: Transition
) -> None:
    cid = make_conversation(db_url)
    assert _raise(db_url, cid)
    with session_scope(db_url) as s:
        me = s.get(repo.Adviser, adviser.id)
        assert me is not None
        service.transition(
            s,
            conversation_id=cid,
            adviser=me,
            move=transition,
            outcome="answered" if transition is Transition.RESOLVE else "",
        )
    with session_scope(db_url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        assert not conversation.urgent and conversation.urgent_since is None


async def test_a_closed_conversation_is_never_raised(
    db_url: str, directory: dict[str, str]
) -> None:
    for status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
        cid = make_conversation(db_url, status=status)
        assert not _raise(db_url, cid)
        with session_scope(db_url) as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None and not conversation.urgent
