"""The outbox on the real stack: the Bot API down for a while, then up. Every bot
and adviser reply arrives once, in order, and meanwhile the console shows them
as not yet delivered."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.db.models import Message, MessageType, Outbox, OutboxState
from bot.db.session import session_scope
from tests.e2e.conftest import E2EStack
from tests.e2e.people import (
    ASK_PERSON,
    Console,
    Person,
    adviser_console,
    closing_people,
    new_person,
    wait_for,
)

pytestmark = pytest.mark.e2e

# The scenario is 60 s; a few seconds exercise the same logic.
OUTAGE_S = float(os.environ.get("FRONTDOOR_TEST_BOT_API_OUTAGE_S", "3"))


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


@pytest.fixture
def people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    yield from closing_people(stack, console)


def _outbox(stack: E2EStack, cid: str) -> list[tuple[str, OutboxState]]:
    with session_scope(stack.database_url) as s:
        return [
            (m.content, state)
            for m, state in s.execute(
                select(Message, Outbox.state)
                .join(Outbox, Outbox.message_id == Message.id)
                .where(Message.conversation_id == cid)
                .order_by(Message.id)
            ).tuples()
        ]


def _answered(stack: E2EStack, message_id: int) -> bool:
    with session_scope(stack.database_url) as s:
        message = s.get(Message, message_id)
        return message is not None and message.answered_at is not None


def test_bot_api_down_then_up_every_reply_arrives_once_in_order(
    stack: E2EStack, console: Console, people: list[Person]
) -> None:
    person = new_person(people, stack, "telegram")
    api = stack.bot_api
    api.down = True
    try:
        for text in ("hello", ASK_PERSON):
            incoming = person._post_telegram(text)  # stored before the 200
            wait_for(
                f"{text!r} answered",
                lambda mid=incoming: _answered(stack, mid),  # type: ignore[misc]
            )
        cid = person.conversation_id
        assert cid is not None
        console.claim(cid)
        console._form(cid, "reply", text="Hi, Robin here, how can I help?")
        expected = [text for text, _ in _outbox(stack, cid)]
        assert len(expected) >= 3 and expected[-1] == "Hi, Robin here, how can I help?"
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            assert {state for _, state in _outbox(stack, cid)} == {
                OutboxState.PENDING
            }
            page = console.http.get(f"/conversations/{cid}").text
            assert page.count('data-delivery="pending"') == len(expected)
            assert "Sending…" in page
            time.sleep(0.2)  # the interval of this check, not a wait for state
        assert api.sent_texts(person.chat) == []
    finally:
        api.down = False
    wait_for(
        "every reply delivered after the outage",
        lambda: {state for _, state in _outbox(stack, cid)} == {OutboxState.DELIVERED},
        timeout=90,
    )
    # once each, in order (the bot's queued ones may go as one message); the
    # adviser's reply on its own, labelled with their first name
    labelled = [*expected[:-1], f"Robin (adviser): {expected[-1]}"]
    sent = api.sent_texts(person.chat)
    assert sent[-1] == labelled[-1]
    assert "\n\n".join(sent) == "\n\n".join(labelled)
    page = console.http.get(f"/conversations/{cid}").text
    assert page.count('data-delivery="delivered"') == len(expected)
    with session_scope(stack.database_url) as s:
        outgoing = s.scalars(
            select(Message).where(
                Message.conversation_id == cid,
                Message.message_type == MessageType.OUTGOING,
            )
        ).all()
        assert all(m.delivered_at is not None for m in outgoing)
