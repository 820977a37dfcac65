"""The action server failing during a turn is noticed in that turn (from the
turn's tracker events, never a cached health check): the person gets the apology
and a hand-over, never the half-answer Rasa carried on with."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import Conversation, Handoff, Message, MessageType
from bot.gateway.action_check import failed_actions, is_custom
from bot.gateway.turns import BOT_UNAVAILABLE_TEXT
from tests.gateway.conftest import Harness

HALF_ANSWER = "Your local support organisation is"

# What Rasa 3.6 records: the user message, action_extract_slots with its slots,
# then each predicted action followed by what it said and set.
OK_TURN: list[dict[str, Any]] = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "How do we apply for a grant? Truro"},
    {"event": "user_featurization"},
    {"event": "action", "name": "action_extract_slots"},
    {"event": "slot", "name": "topic", "value": "funding"},
    {"event": "action", "name": "action_set_topic"},
    {"event": "slot", "name": "topic", "value": "funding"},
    {"event": "action", "name": "location_form"},
    {"event": "active_loop", "name": None},
    {"event": "action", "name": "action_find_lio"},
    {"event": "bot", "text": "Cornwall Voluntary Sector Forum covers Truro."},
    {"event": "slot", "name": "organisation_ids", "value": ["lio1"]},
    {"event": "action", "name": "action_suggest_resources"},
    {"event": "bot", "text": "This guidance should help: ..."},
    {"event": "action", "name": "utter_anything_else"},
    {"event": "bot", "text": "Anything else?"},
    {"event": "action", "name": "action_listen"},
]


def _without_events_of(name: str) -> list[dict[str, Any]]:
    """OK_TURN as it is when ``name`` failed: its events lost, Rasa carried on."""
    out: list[dict[str, Any]] = []
    skipping = False
    for event in OK_TURN:
        if event.get("event") == "action":
            skipping = event["name"] == name
            out.append(event)
        elif not skipping:
            out.append(event)
    return out


@pytest.mark.unit
def test_a_turn_where_every_action_ran_has_no_failure() -> None:
    assert failed_actions(OK_TURN, topic="funding") == []


@pytest.mark.unit
@pytest.mark.parametrize(
    "name",
    [
        "action_set_topic",
        "location_form",
        "action_find_lio",
        "action_suggest_resources",
    ],
)
def test_a_custom_action_that_left_no_event_failed(name: str) -> None:
    assert failed_actions(_without_events_of(name), topic="funding") == [name]


@pytest.mark.unit
def test_only_the_last_turn_counts_and_rasa_actions_may_be_silent() -> None:
    earlier_failure = _without_events_of("action_find_lio")
    now = [
        {"event": "user", "text": "thanks"},
        {"event": "action", "name": "action_extract_slots"},
        {"event": "action", "name": "utter_youre_welcome"},
        {"event": "bot", "text": "You're welcome."},
        {"event": "action", "name": "action_listen"},
    ]
    assert failed_actions([*earlier_failure, *now]) == []
    assert not is_custom("action_listen") and not is_custom("utter_greet")
    assert is_custom("action_handoff") and is_custom("location_form")


@pytest.mark.unit
def test_guidance_without_a_topic_is_a_silent_success() -> None:
    turn = [
        {"event": "user", "text": "hi"},
        {"event": "action", "name": "action_suggest_resources"},
        {"event": "action", "name": "action_listen"},
    ]
    assert failed_actions(turn, topic=None) == []
    assert failed_actions(turn, topic="funding") == ["action_suggest_resources"]


@pytest.mark.integration
async def test_an_action_failing_mid_turn_gets_the_apology_and_a_person(
    gw: Harness,
) -> None:
    def half_answer(sender: str, text: str) -> dict[str, Any]:
        # action_find_lio failed: Rasa went on and said what it could
        return {
            "messages": [{"text": HALF_ANSWER}, {"text": "Anything else?"}],
            "intent": {"name": "funding", "confidence": 0.9},
            "paused": False,
            "_events": this_turn_of(_without_events_of("action_find_lio")),
        }

    gw.rasa.script = half_answer
    gw.rasa.slots = {"topic": "funding"}
    conv = await gw.start()
    cid = conv["conversation_id"]
    body = (await gw.send(conv, "How do we apply for a grant? Truro")).json()
    assert [r["text"] for r in body["replies"]] == [BOT_UNAVAILABLE_TEXT]
    assert body["status"] == "queued"
    with gw.db() as s:
        said = list(
            s.scalars(
                select(Message.content).where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.OUTGOING,
                )
            )
        )
        assert said == [BOT_UNAVAILABLE_TEXT]  # the half-answer is never stored
        reasons = list(s.scalars(select(Handoff.reason)))
        assert reasons == ["bot_unavailable"]
        person = s.scalars(
            select(Message).where(Message.message_type == MessageType.INCOMING)
        ).one()
        assert (person.intent, person.answered_at is not None) == ("funding", True)
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.bot_paused


@pytest.mark.integration
async def test_the_next_turn_with_the_action_server_back_is_answered(
    gw: Harness,
) -> None:
    gw.rasa.slots = {"topic": "funding"}
    conv = await gw.start()

    def ok(sender: str, text: str) -> dict[str, Any]:
        return {
            "messages": [{"text": "Cornwall Voluntary Sector Forum covers Truro."}],
            "intent": {"name": "funding", "confidence": 0.9},
            "paused": False,
            "_events": this_turn_of(OK_TURN),
        }

    gw.rasa.script = ok
    body = (await gw.send(conv, "How do we apply for a grant? Truro")).json()
    assert [r["text"] for r in body["replies"]] == [
        "Cornwall Voluntary Sector Forum covers Truro."
    ]
    assert body["status"] == "bot"


def this_turn_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events after the user message (the fake adds the user event itself)."""
    index = next(i for i, e in enumerate(events) if e.get("event") == "user")
    return events[index + 1 : -1]


@pytest.mark.integration
async def test_the_turn_events_in_the_channels_answer_are_enough(gw: Harness) -> None:
    # the channel's own "turn_events" and "topic" are what the gateway reads
    def half_answer(sender: str, text: str) -> dict[str, Any]:
        return {
            "messages": [{"text": HALF_ANSWER}],
            "intent": {"name": "funding", "confidence": 0.9},
            "paused": False,
            "turn_events": this_turn_of(_without_events_of("action_find_lio")),
            "topic": "funding",
        }

    gw.rasa.script = half_answer
    conv = await gw.start()
    body = (await gw.send(conv, "How do we apply for a grant? Truro")).json()
    assert [r["text"] for r in body["replies"]] == [BOT_UNAVAILABLE_TEXT]
    assert body["status"] == "queued"

    def ok(sender: str, text: str) -> dict[str, Any]:
        return {
            "messages": [{"text": "Cornwall Voluntary Sector Forum covers Truro."}],
            "intent": {"name": "funding", "confidence": 0.9},
            "paused": False,
            "turn_events": this_turn_of(OK_TURN),
            "topic": "funding",
        }

    gw.rasa.script = ok
    second = await gw.start()
    body = (await gw.send(second, "How do we apply for a grant? Truro")).json()
    assert body["status"] == "bot"
    assert [r["text"] for r in body["replies"]] == [
        "Cornwall Voluntary Sector Forum covers Truro."
    ]
