"""A whole conversation in Welsh on the real stack (issue 16): real Rasa with the
trained model (Welsh examples in it), the action server, the gateway, the
console. The question, the place, the local organisation, the guidance, the
offer of a person and the hand-over all come back in Welsh; the adviser sees
the conversation marked Cymraeg, filters the queue by it and replies in Welsh.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.db.models import ConversationStatus
from bot.i18n import text
from tests.e2e.conftest import E2EStack
from tests.e2e.people import (
    Console,
    Person,
    adviser_console,
    closing_people,
    new_person,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


@pytest.fixture
def people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    yield from closing_people(stack, console)


@pytest.mark.parametrize("channel", ["web", "telegram"])
def test_a_whole_conversation_in_welsh(
    stack: E2EStack, console: Console, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    said = person.exchange("Helo, dan ni'n chwilio am grant i brynu offer i'r côr")
    assert said[0] == text("responses.utter_funding/grants.text", "cy"), said
    assert said[-1] == text("actions.ask_location", "cy"), said
    assert person.conversation().language == "cy"

    said = person.exchange("Caernarfon")
    joined = "\n".join(said)
    assert "Y sefydliad cymorth lleol ar gyfer Caernarfon" in joined, said
    assert "Mantell Gwynedd: y Cyngor Gwirfoddol Sirol" in joined, said
    assert "anllaw" in joined, said  # Canllawiau... or "tudalen ganllaw"
    assert said[-1] == text("responses.utter_offer_human.text", "cy"), said
    assert person.conversation().language == "cy"  # a place name switched nothing

    said = person.exchange("ga i siarad â rhywun am hyn plis")
    assert said == [text("actions.handed_over", "cy")], said
    conversation = person.conversation()
    assert conversation.status is ConversationStatus.QUEUED

    cid = person.conversation_id
    assert cid is not None
    queue = console.http.get("/?language=cy").text
    assert f'data-conversation="{cid}"' in queue
    assert 'class="language-tag" lang="cy"' in queue
    assert f'data-conversation="{cid}"' not in console.http.get("/?language=en").text

    console.claim(cid)
    page = console.http.get(f"/conversations/{cid}").text
    assert "Cymraeg</span> (Welsh: answer in Welsh)" in page
    reply = "Bore da! Dw i'n gallu helpu gyda'r cais am grant i'r côr."
    console.reply(cid, reply)
    told = [m.content for m in person.messages() if m.sender == "adviser"]
    assert told == [reply]
    if channel == "telegram":
        # labelled with the adviser's first name, in Welsh
        assert f"Robin (cynghorydd): {reply}" in stack.bot_api.sent_texts(person.chat)
