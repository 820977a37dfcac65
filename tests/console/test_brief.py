"""The hand-over brief (the person's own words, what the bot gave), the queue's
order, waiting bands and unread badges, and correcting the topic and place."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from bot.db.models import (
    Conversation,
    ConversationFacts,
    ConversationStatus,
    Message,
    MessageType,
    TriageCorrection,
)
from bot.db.session import session_scope
from bot.settings import get_settings
from tests.console.conftest import Adviser, make_conversation

pytestmark = pytest.mark.integration

LONG_ENQUIRY = (
    "We are a small village hall committee in Northdale and we have been running "
    "a lunch club for older people for six years. "
    * 8
    + "What we really need to know is whether we can apply for a grant to replace "
    "the minibus, and who we should talk to first."
)


def _order(html: str) -> list[str]:
    return re.findall(r'data-conversation="([^"]+)"', html)


def _card(html: str, conversation_id: str) -> str:
    start = html.index(f'data-conversation="{conversation_id}"')
    end = html.find('<li class="card', start)
    return html[start : end if end != -1 else len(html)]


async def test_brief_quotes_the_person_and_says_what_the_bot_gave(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url,
        organisation_id=None,  # the LIO comes from the district's coverage
        messages=[
            (MessageType.INCOMING, "person", "hi", ("greet", 0.99)),
            (MessageType.INCOMING, "person", LONG_ENQUIRY, ("funding", 0.8)),
            (
                MessageType.OUTGOING,
                "bot",
                "This guidance from NCVO should help: Grants. "
                "https://www.ncvo.org.uk/help-and-guidance/funding-income/ "
                "Would you like to talk to an adviser?",
            ),
            (MessageType.INCOMING, "person", "/request_human", ("request_human", 1.0)),
        ],
        organisation_names=["Testshire CVS"],
    )
    with session_scope(db_url) as s:
        s.execute(
            update(Message)
            .where(Message.conversation_id == cid, Message.sender == "bot")
            .values(
                buttons=[
                    {"title": "Yes, talk to an adviser", "payload": "/request_human"},
                    {"title": "No thanks", "payload": "/deny"},
                ]
            )
        )
    html = (await adviser.client.get("/console/")).text
    card = _card(html, cid)
    # the enquiry, quoted and visibly cut, with the way to the full text
    assert "We are a small village hall committee in Northdale" in card
    assert "who we should talk to first" not in card
    assert re.search(r"\d+ more characters: <a href=\"[^\"]+#msg-\d+\">", card)
    # the button pressed, by its title, never the raw payload
    assert "Pressed: “Yes, talk to an adviser”" in card
    assert "/request_human" not in card
    assert ">hi<" not in card  # a greeting is not the question
    assert "Asked for a person" in card
    assert "Funding: grants" in card
    assert "<dt>Place</dt><dd>Northdale, Testshire</dd>" in card
    assert "<dt>LIO</dt><dd>Testshire CVS</dd>" in card
    assert "https://www.ncvo.org.uk/help-and-guidance/funding-income/" in card
    assert "Organisations: Testshire CVS" in card
    assert "Reason: asked for a person." not in card  # no restated fields

    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    top = page[: page.index('id="transcript-heading"')]
    assert "We are a small village hall committee" in top
    assert "Pressed: “Yes, talk to an adviser”" in top
    transcript = page[page.index('id="transcript-heading"') :]
    assert "who we should talk to first." in transcript  # the full text is here
    assert "Pressed “Yes, talk to an adviser”" in transcript
    assert "/request_human" not in page


async def test_only_a_request_for_a_person_is_still_quoted(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url,
        topic=None,
        subtopic=None,
        messages=[
            (
                MessageType.INCOMING,
                "person",
                "can I speak to someone",
                ("request_human", 0.9),
            )
        ],
        organisation_names=[],
    )
    card = _card((await adviser.client.get("/console/")).text, cid)
    assert "can I speak to someone" in card
    assert "Topic not identified" in card
    assert "Nothing yet" in card


async def test_queue_is_urgent_first_then_at_risk_then_longest_waiting(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    routine_old = make_conversation(db_url, waited_minutes=90)
    routine_new = make_conversation(db_url, waited_minutes=5)
    risk = make_conversation(db_url, waited_minutes=2, reason="risk")
    urgent = make_conversation(db_url, waited_minutes=1, reason="urgent")
    with session_scope(db_url) as s:
        from bot.db.base import utcnow

        s.execute(
            update(Conversation)
            .where(Conversation.id == urgent)
            .values(urgent=True, urgent_since=utcnow())
        )
    html = (await adviser.client.get("/console/")).text
    assert _order(html) == [urgent, risk, routine_old, routine_new]


async def test_waiting_bands_follow_the_configured_targets(
    adviser: Adviser,
    db_url: str,
    directory: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSOLE_WAIT_AMBER_MINUTES", "20")
    monkeypatch.setenv("CONSOLE_WAIT_RED_MINUTES", "45")
    get_settings.cache_clear()
    ok = make_conversation(db_url, waited_minutes=5)
    amber = make_conversation(db_url, waited_minutes=25)
    red = make_conversation(db_url, waited_minutes=50)
    html = (await adviser.client.get("/console/")).text
    assert 'data-band="ok"' in _card(html, ok) and "within target" in _card(html, ok)
    assert 'data-band="amber"' in _card(html, amber)
    assert "over the 20 min target" in _card(html, amber)
    assert 'data-band="red"' in _card(html, red)
    assert "over 45 min: answer now" in _card(html, red)
    assert "over 45 min" in html[: html.index('id="queue-live"')]  # the key


async def test_unread_badge_counts_new_messages_until_opened(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)  # two messages from the person
    card = _card((await adviser.client.get("/console/")).text, cid)
    assert 'data-unread="2"' in card and "2 new" in card
    assert (
        await adviser.client.get(f"/console/conversations/{cid}")
    ).status_code == 200
    card = _card((await adviser.client.get("/console/")).text, cid)
    assert 'data-unread="0"' in card and "new<" not in card
    # each adviser has their own: Sam has not opened it
    other = _card((await second_adviser.client.get("/console/")).text, cid)
    assert 'data-unread="2"' in other
    with session_scope(db_url) as s:
        s.add(
            Message(
                conversation_id=cid,
                message_type=MessageType.INCOMING,
                sender="person",
                content="Are you still there?",
                channel="web",
            )
        )
    card = _card((await adviser.client.get("/console/")).text, cid)
    assert 'data-unread="1"' in card and "1 new" in card
    # the live refresh of an open transcript marks it read too
    await adviser.client.get(f"/console/conversations/{cid}/messages?after=0")
    card = _card((await adviser.client.get("/console/")).text, cid)
    assert 'data-unread="0"' in card


async def test_adviser_corrects_topic_and_place(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url, topic="funding", subtopic="grants")
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert '<option value="Southdale, Testshire (E07000002)">' in page
    response = await adviser.post(
        f"/console/conversations/{cid}/triage",
        {
            "topic": "volunteering/checks",
            "district": "Southdale, Testshire (E07000002)",
            "place_name": "Little Snoring",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?notice=corrected")
    with session_scope(db_url) as s:
        c = s.get(Conversation, cid)
        assert c is not None
        assert (c.topic, c.subtopic, c.lad_code, c.place_name) == (
            "volunteering",
            "checks",
            "E07000002",
            "Little Snoring",
        )
        rows = s.scalars(
            select(TriageCorrection).where(TriageCorrection.conversation_id == cid)
        ).all()
        assert {(r.field, r.old_value, r.new_value) for r in rows} == {
            ("topic", "funding", "volunteering"),
            ("subtopic", "grants", "checks"),
            ("lad_code", "E07000001", "E07000002"),
            ("place_name", "Northdale", "Little Snoring"),
        }
        assert all(r.adviser_id == adviser.id for r in rows)
        reported = s.get(ConversationFacts, cid)  # what the reports read
        assert reported is not None
        assert (reported.topic, reported.subtopic, reported.lad_code) == (
            "volunteering",
            "checks",
            "E07000002",
        )
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert "Corrected by an adviser" in page and "Volunteering: checks" in page
    # the place alone; the district's name when no place is given
    await adviser.post(
        f"/console/conversations/{cid}/triage",
        {"topic": "", "district": "Northdale, Testshire (E07000001)"},
    )
    with session_scope(db_url) as s:
        c = s.get(Conversation, cid)
        assert c is not None
        assert (c.topic, c.lad_code, c.place_name) == (
            "volunteering",
            "E07000001",
            "Northdale",
        )


@pytest.mark.parametrize(
    "form",
    [
        {"topic": "astrology"},
        {"topic": "funding/checks"},  # a subtopic of another topic
        {"district": "Atlantis"},  # not chosen from the list
        {"district": "Atlantis (E07999999)"},  # not a district
    ],
)
async def test_corrections_refuse_what_the_console_does_not_know(
    adviser: Adviser, db_url: str, directory: dict[str, str], form: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    response = await adviser.post(f"/console/conversations/{cid}/triage", form)
    assert response.status_code == 400
    with session_scope(db_url) as s:
        c = s.get(Conversation, cid)
        assert c is not None and (c.topic, c.lad_code) == ("funding", "E07000001")
        assert s.scalars(select(TriageCorrection)).all() == []
    missing = await adviser.post(
        "/console/conversations/nope/triage", {"topic": "funding"}
    )
    assert missing.status_code == 404


async def test_resolved_conversations_are_not_in_the_queue(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    done = make_conversation(db_url, status=ConversationStatus.RESOLVED)
    assert done not in _order((await adviser.client.get("/console/")).text)
