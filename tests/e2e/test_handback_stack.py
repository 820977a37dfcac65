"""Hand back and resolve on the real stack (Rasa, the action server, the
gateway): the next "hello" gets the bot's normal greeting, not the fallback and a
second hand-over, on both channels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.db.models import ConversationStatus
from tests.e2e.conftest import E2EStack
from tests.e2e.people import (
    CHANNELS,
    Console,
    Person,
    adviser_console,
    closing_people,
    new_person,
    queued,
)

pytestmark = pytest.mark.e2e

GREETING = "Hello! I'm Front Door"
FALLBACK = "Sorry, I'm not sure I understood that"


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


@pytest.fixture
def people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    yield from closing_people(stack, console)


def _greeted(said: list[str]) -> None:
    assert said and said[0].startswith(GREETING), said
    assert not any(FALLBACK in t or "human adviser" in t for t in said), said


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("move", ["hand-back", "resolve"])
def test_after_the_adviser_gives_it_back_hello_gets_a_normal_answer(
    stack: E2EStack,
    console: Console,
    people: list[Person],
    channel: str,
    move: str,
) -> None:
    person = new_person(people, stack, channel)
    _greeted(person.exchange("hello"))
    queued(person)
    cid = person.conversation_id
    assert cid is not None
    console.claim(cid)
    reply = "Hi, Jo here: the CVS can help with that."
    console.reply(cid, reply)  # waits for the outbox to deliver it
    if channel == "telegram":
        # labelled with the adviser's first name on Telegram
        assert stack.bot_api.sent_texts(person.chat)[-1] == f"Robin (adviser): {reply}"
    if move == "resolve":
        console.resolve(cid, "answered")
    else:
        console._form(cid, "hand-back")
        assert not person.conversation().bot_paused  # Rasa was told at once
    _greeted(person.exchange("hello"))
    conversation = person.conversation()
    assert conversation.status is ConversationStatus.BOT
    assert person.handoffs() == ["asked_for_person"]  # no second hand-over
    # and the dialogue really runs again: a topic question is answered
    said = person.exchange("How do we apply for a grant for our village hall?")
    assert said and not any(FALLBACK in t for t in said), said
    assert person.conversation().status is ConversationStatus.BOT
