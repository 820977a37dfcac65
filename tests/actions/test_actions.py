"""Every custom action against a throwaway database holding the real directory."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.directory import ActionFindLio
from actions.forms import ActionAskLocation, ValidateLocationForm
from actions.handoff import ActionHandoff
from actions.resources import ActionSuggestResources
from actions.topics import ActionSetLocation, ActionSetTopic
from bot.db.models import Conversation, ConversationStatus, Handoff, Message, Resource
from bot.db.session import get_sessionmaker
from bot.directory.resolver import clear_resolvers
from bot.domain.safety import emergency_text
from bot.settings import get_settings

pytestmark = pytest.mark.integration

DOMAIN: dict[str, Any] = {}


@pytest.fixture
def db(directory_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the actions at the throwaway database."""
    monkeypatch.setenv("DATABASE_URL", directory_db_url)
    get_settings.cache_clear()
    clear_resolvers()
    yield directory_db_url
    get_settings.cache_clear()
    clear_resolvers()


def tracker(
    text: str,
    *,
    intent: str = "funding",
    slots: dict[str, Any] | None = None,
    subtopic_key: str | None = None,
    sender: str = "conv-test",
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "metadata": {"channel": "web"},
    }
    if subtopic_key:
        latest["response_selector"] = {
            intent: {"response": {"intent_response_key": subtopic_key}}
        }
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message=latest,
        events=events or [{"event": "user", "text": text}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def test_set_topic_takes_topic_subtopic_and_place(db: str) -> None:
    d = CollectingDispatcher()
    t = tracker(
        "hi we're a food bank in Leeds, where can we find grants for a van?",
        subtopic_key="funding/grants",
    )
    slots = slots_of(await ActionSetTopic().run(d, t, DOMAIN))
    assert slots["topic"] == "funding" and slots["subtopic"] == "grants"
    assert slots["location_status"] == "resolved"
    assert slots["lad_code"] == "E08000035"  # Leeds
    assert slots["nation"] == "England"


async def test_set_topic_without_a_place_asks_for_one(db: str) -> None:
    slots = slots_of(
        await ActionSetTopic().run(
            CollectingDispatcher(), tracker("how do we claim gift aid"), DOMAIN
        )
    )
    assert slots["location_status"] == "needs_place"
    assert "lad_code" not in slots


async def test_set_topic_keeps_a_place_known_from_earlier(db: str) -> None:
    t = tracker(
        "and what about gift aid",
        slots={"location_status": "resolved", "lad_code": "E06000052"},
    )
    slots = slots_of(await ActionSetTopic().run(CollectingDispatcher(), t, DOMAIN))
    assert slots["location_status"] == "resolved"


async def test_set_topic_with_an_ambiguous_place_keeps_candidates(db: str) -> None:
    t = tracker(
        "we're a youth club in Newport, how do we get volunteers", intent="volunteering"
    )
    slots = slots_of(await ActionSetTopic().run(CollectingDispatcher(), t, DOMAIN))
    assert slots["location_status"] == "needs_place"
    names = [c["name"] for c in slots["place_candidates"]]
    assert len(names) >= 2 and any("Isle of Wight" in n for n in names)


async def test_set_location_before_the_question(db: str) -> None:
    d = CollectingDispatcher()
    slots = slots_of(
        await ActionSetLocation().run(
            d, tracker("we're based in Swansea", intent="inform_location"), DOMAIN
        )
    )
    assert slots["lad_code"] == "W06000011"
    assert "Swansea" in texts(d)


@pytest.mark.parametrize(
    ("answer", "lad"),
    [
        ("TR1 2AB", "E06000052"),
        ("Caerdydd", "W06000015"),
        ("St Ives, Cornwall", "E06000052"),
    ],
)
async def test_form_resolves_an_answer(db: str, answer: str, lad: str) -> None:
    result = await ValidateLocationForm().validate_location(
        answer,
        CollectingDispatcher(),
        tracker(answer, intent="inform_location"),
        DOMAIN,
    )
    assert result["location_status"] == "resolved"
    assert result["lad_code"] == lad


async def test_form_asks_which_one_then_takes_the_button(db: str) -> None:
    form = ValidateLocationForm()
    first = await form.validate_location(
        "Newport",
        CollectingDispatcher(),
        tracker("Newport", intent="inform_location"),
        DOMAIN,
    )
    assert first["location"] is None
    candidates = first["place_candidates"]
    d = CollectingDispatcher()
    await ActionAskLocation().run(
        d, tracker("Newport", slots={"place_candidates": candidates}), DOMAIN
    )
    buttons = d.messages[0]["buttons"]
    assert [b["title"] for b in buttons][-1] == "Skip"
    choice = next(b["payload"] for b in buttons if "Isle of Wight" in b["title"])
    second = await form.validate_location(
        choice,
        CollectingDispatcher(),
        tracker(
            choice, intent="inform_location", slots={"place_candidates": candidates}
        ),
        DOMAIN,
    )
    assert second["location_status"] == "resolved"
    assert second["lad_code"] == "E06000046"  # Isle of Wight


async def test_form_gives_up_after_two_misses(db: str) -> None:
    form = ValidateLocationForm()
    d = CollectingDispatcher()
    first = await form.validate_location("asdfgh", d, tracker("asdfgh"), DOMAIN)
    assert first["location"] is None and first["location_attempts"] == 1.0
    assert "couldn't find" in texts(d)
    second = await form.validate_location(
        "down the road",
        CollectingDispatcher(),
        tracker("down the road", slots={"location_attempts": 1.0}),
        DOMAIN,
    )
    assert second["location_status"] == "not_found"


async def test_form_skip(db: str) -> None:
    result = await ValidateLocationForm().validate_location(
        "skip",
        CollectingDispatcher(),
        tracker("/skip_location", intent="skip_location"),
        DOMAIN,
    )
    assert result["location_status"] == "skipped"


def _urls_in(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


async def test_find_lio_names_the_local_organisation_from_the_directory(
    db: str,
) -> None:
    d = CollectingDispatcher()
    t = tracker(
        "x",
        slots={
            "location_status": "resolved",
            "lad_code": "E06000052",
            "place_name": "Truro",
            "topic": "funding",
        },
    )
    events = await ActionFindLio().run(d, t, DOMAIN)
    reply = texts(d)
    assert "Truro (Cornwall)" in reply
    assert "Cornwall Voluntary Sector Forum" in reply
    assert "https://www.cornwallvsf.org" in reply
    assert slots_of(events)["organisation_ids"]
    with get_sessionmaker(db)() as s:
        conv = s.get(Conversation, "conv-test")
        assert (
            conv is not None
            and conv.lad_code == "E06000052"
            and conv.topic == "funding"
        )


async def test_find_lio_falls_back_honestly(db: str) -> None:
    d = CollectingDispatcher()
    t = tracker(
        "x",
        slots={
            "location_status": "resolved",
            "lad_code": "E09000025",
            "place_name": "Newham",
        },
    )
    await ActionFindLio().run(d, t, DOMAIN)
    reply = texts(d)
    assert "We don't have a local support organisation on record for Newham" in reply
    assert "NAVCA" in reply and "https://navca.org.uk" in reply


async def test_find_lio_without_a_place_names_the_national_bodies(db: str) -> None:
    d = CollectingDispatcher()
    await ActionFindLio().run(
        d, tracker("x", slots={"location_status": "skipped"}), DOMAIN
    )
    reply = texts(d)
    for body in ("NCVO", "WCVA", "SCVO", "NICVA"):
        assert body in reply


@pytest.mark.parametrize(
    ("nation", "expected", "forbidden"),
    [
        ("Scotland", "mygov.scot", "dbs"),
        ("Northern Ireland", "nidirect", "mygov.scot"),
        ("England", "ncvo.org.uk", "mygov.scot"),
    ],
)
async def test_guidance_matches_the_nation_and_every_link_is_in_the_data(
    db: str, nation: str, expected: str, forbidden: str
) -> None:
    d = CollectingDispatcher()
    t = tracker(
        "x",
        slots={
            "topic": "volunteering",
            "subtopic": "checks",
            "location_status": "resolved",
            "nation": nation,
        },
    )
    await ActionSuggestResources().run(d, t, DOMAIN)
    urls = _urls_in(texts(d))
    assert 1 <= len(urls) <= 3
    assert any(expected in u for u in urls)
    assert not any(forbidden in u.lower() for u in urls)
    with get_sessionmaker(db)() as s:
        known = set(s.scalars(select(Resource.url)))
    assert set(urls) <= known


async def test_guidance_says_so_when_there_is_none(db: str) -> None:
    d = CollectingDispatcher()
    t = tracker(
        "x",
        slots={
            "topic": "volunteering",
            "subtopic": "finding_opportunities",
            "location_status": "resolved",
            "nation": "England",
        },
    )
    await ActionSuggestResources().run(d, t, DOMAIN)
    assert "don't have an official guidance page" in texts(d)


async def test_handoff_records_a_summary_queues_and_pauses(db: str) -> None:
    d = CollectingDispatcher()
    sender = "conv-handoff-1"
    t = tracker(
        "can I talk to someone",
        intent="request_human",
        sender=sender,
        slots={
            "topic": "funding",
            "subtopic": "gift_aid",
            "location_status": "resolved",
            "place_name": "Truro",
            "lad_code": "E06000052",
            "organisation_ids": ["lio001"],
        },
        events=[
            {"event": "user", "text": "how do we claim gift aid"},
            {"event": "bot", "text": "Where is your group based?"},
            {"event": "user", "text": "can I talk to someone"},
        ],
    )
    events = await ActionHandoff().run(d, t, DOMAIN)
    assert events == [{"event": "pause", "timestamp": None}]
    assert "human adviser" in texts(d)
    with get_sessionmaker(db)() as s:
        conv = s.get(Conversation, sender)
        assert conv is not None and conv.status == ConversationStatus.QUEUED
        assert conv.waiting_since is not None
        handoff = s.scalars(
            select(Handoff).where(Handoff.conversation_id == sender)
        ).one()
        assert handoff.reason == "asked_for_person"
        assert (
            "Funding (gift aid)" in handoff.summary
            and "Truro (E06000052)" in handoff.summary
        )
        assert handoff.organisation_names and handoff.organisation_names[0].startswith(
            "NCVO"
        )
        assert handoff.last_messages[0] == {
            "sender": "person",
            "text": "how do we claim gift aid",
        }
        activity = s.scalars(
            select(Message).where(Message.conversation_id == sender)
        ).all()
        assert any(m.message_type.value == "activity" for m in activity)


async def test_a_person_request_inside_a_topic_question_keeps_its_topic(
    db: str,
) -> None:
    d = CollectingDispatcher()
    sender = "conv-handoff-topic"
    t = tracker("could someone ring me back about gift aid on the hall hire?",
                intent="request_human", sender=sender)
    t.latest_message["triage"] = {"person": True, "urgent": False,
                                  "topic": "funding", "subtopic": "gift_aid"}
    await ActionHandoff().run(d, t, DOMAIN)
    with get_sessionmaker(db)() as s:
        handoff = s.scalars(
            select(Handoff).where(Handoff.conversation_id == sender)
        ).one()
        assert handoff.reason == "asked_for_person"
        assert "Funding (gift aid)" in handoff.summary
        conv = s.get(Conversation, sender)
        assert conv is not None and conv.topic == "funding"


async def test_actions_answer_clearly_when_the_database_is_down(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:1/nope")
    get_settings.cache_clear()
    try:
        caplog.set_level(logging.ERROR, logger="actions")
        d = CollectingDispatcher()
        t = tracker(
            "x",
            sender="conv-down",
            slots={"location_status": "resolved", "lad_code": "E06000052"},
        )
        assert await ActionFindLio().run(d, t, DOMAIN) == []
        assert "something went wrong on our side" in texts(d)
        assert "conversation_id=conv-down" in caplog.text
        d2 = CollectingDispatcher()
        events = await ActionHandoff().run(
            d2, tracker("help", sender="conv-down", intent="request_human"), DOMAIN
        )
        assert events == [{"event": "pause", "timestamp": None}]
        assert "tell them your question again" in texts(d2)
    finally:
        get_settings.cache_clear()


async def test_a_county_asks_which_council_area(db: str) -> None:
    form = ValidateLocationForm()
    result = await form.validate_location(
        "Kent",
        CollectingDispatcher(),
        tracker("Kent", intent="inform_location"),
        DOMAIN,
    )
    assert result["location"] is None
    names = [c["name"] for c in result["place_candidates"]]
    assert "Ashford" in names and "Maidstone" in names
    # Kent's twelve districts and Medway: every one is offered, none dropped.
    assert len(names) == 13 and "Tunbridge Wells" in names
    asked = CollectingDispatcher()
    await ActionAskLocation().run(
        asked,
        tracker(
            "Kent",
            intent="inform_location",
            slots={"place_candidates": result["place_candidates"]},
        ),
        DOMAIN,
    )
    titles = [b["title"] for b in asked.messages[0]["buttons"]]
    assert titles == [*names, "Skip"]
    assert {c["lad_code"][:3] for c in result["place_candidates"]} <= {"E06", "E07"}
    picked = await form.validate_location(
        "Maidstone",
        CollectingDispatcher(),
        tracker(
            "Maidstone",
            intent="inform_location",
            slots={"place_candidates": result["place_candidates"]},
        ),
        DOMAIN,
    )
    assert picked["location_status"] == "resolved"
    assert picked["lad_code"] == "E07000110"


async def test_handoff_of_someone_at_risk_is_urgent_with_the_one_emergency_text(
    db: str,
) -> None:
    d = CollectingDispatcher()
    sender = "conv-handoff-risk"
    t = tracker(
        "a man keeps hanging round the kids' session taking pictures",
        intent="report_risk",
        sender=sender,
        slots={"nation": "Scotland", "place_name": "Edinburgh"},
    )
    events = await ActionHandoff().run(d, t, DOMAIN)
    assert events == [{"event": "pause", "timestamp": None}]
    # Rasa on its own (rasa shell) says the gateway's text; through the gateway
    # this copy is dropped and the gateway sends its own.
    assert [m["text"] for m in d.messages] == [emergency_text("Scotland")]
    with get_sessionmaker(db)() as s:
        conv = s.get(Conversation, sender)
        assert conv is not None and conv.status == ConversationStatus.QUEUED
        assert conv.urgent and conv.urgent_since is not None
        handoff = s.scalars(
            select(Handoff).where(Handoff.conversation_id == sender)
        ).one()
        assert handoff.reason == "urgent"
        assert handoff.summary.startswith("Reason: someone may be at risk now")
