"""The risk check at the gateway's edge, with a Rasa stand-in: every state, the
floor and the model, Rasa down, out of hours, idempotence and the live events."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations import service
from bot.db.models import (
    Adviser,
    Conversation,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Nation,
)
from bot.db.repositories import conversations as repo
from bot.db.session import session_scope
from bot.domain.handoff import Transition
from bot.domain.safety import URGENT_ACTIVITY_TEXT, emergency_text
from bot.gateway import hub
from bot.gateway.pipeline import BOT_UNAVAILABLE_TEXT
from tests.gateway.conftest import OUT_OF_HOURS, Harness, HarnessFactory

pytestmark = pytest.mark.integration

RISKY = "one of the boys at football just told me his dad hits him"
MODEL_ONLY = "a man keeps hanging round the kids' session taking pictures"
EMERGENCY = emergency_text(None)


def _adviser(s: Session) -> Adviser:
    adviser = Adviser(username="jo", display_name="Jo Adviser", password_hash="-")
    s.add(adviser)
    s.flush()
    return adviser


def _messages(h: Harness, cid: str) -> list[Message]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message)
                .where(Message.conversation_id == cid)
                .order_by(Message.id)
            )
        )


def _conversation(h: Harness, cid: str) -> Conversation:
    with h.db() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        return conversation


def _handoffs(h: Harness, cid: str) -> list[str]:
    with h.db() as s:
        rows = s.scalars(
            select(Handoff).where(Handoff.conversation_id == cid).order_by(Handoff.id)
        )
        return [x.reason for x in rows]


def _said(h: Harness, cid: str) -> list[str]:
    return [
        m.content
        for m in _messages(h, cid)
        if m.message_type is MessageType.OUTGOING and m.sender == "bot"
    ]


async def _queued(h: Harness) -> dict[str, Any]:
    conv = await h.start()
    body = (await h.send(conv, "I'd like to talk to a person")).json()
    assert body["status"] == "queued"
    return conv


def _assert_urgent(h: Harness, cid: str, status: ConversationStatus) -> None:
    conversation = _conversation(h, cid)
    assert conversation.status is status
    assert conversation.urgent and conversation.urgent_since is not None
    activity = [
        m.content for m in _messages(h, cid) if m.message_type is MessageType.ACTIVITY
    ]
    assert activity.count(URGENT_ACTIVITY_TEXT) == 1


async def test_bot_state_floor_answers_at_once_without_the_bot(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    body = (await gw.send(conv, RISKY)).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert body["status"] == "queued"
    assert gw.rasa.received == []  # no topic answer can come back
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)
    assert _handoffs(gw, cid) == ["urgent"]
    person, told = [m for m in _messages(gw, cid) if m.sender != "system"]
    assert person.content == RISKY and person.urgent
    assert told.content == EMERGENCY and told.urgent


async def test_bot_state_model_drops_the_topic_answer(gw: Harness) -> None:
    def script(sender: str, text: str) -> dict[str, Any]:
        return {
            "messages": [
                {"text": "Here is some guidance: https://www.gov.uk/guidance"},
                {"text": "Where is your group based?"},
            ],
            "intent": {"name": "report_risk", "confidence": 0.71},
            "paused": False,
        }

    gw.rasa.script = script
    conv = await gw.start()
    cid = conv["conversation_id"]
    body = (await gw.send(conv, MODEL_ONLY)).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert "https://" not in str(body)
    assert _said(gw, cid) == [EMERGENCY]
    assert _handoffs(gw, cid) == ["urgent"]
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)
    person = _messages(gw, cid)[0]
    assert (person.intent, person.urgent) == ("report_risk", True)


async def test_bot_state_model_after_rasa_handed_over_makes_no_second_handoff(
    gw: Harness,
) -> None:
    def script(sender: str, text: str) -> dict[str, Any]:
        # What action_handoff does for report_risk: an urgent hand-over, its text.
        with session_scope(gw.settings.database_url) as s:
            conversation = repo.get_conversation(s, conversation_id=sender)
            assert conversation is not None
            service.hand_over_conversation(
                s, conversation=conversation, reason="urgent"
            )
        return {
            "messages": [{"text": EMERGENCY}],
            "intent": {"name": "report_risk", "confidence": 0.8},
            "paused": True,
        }

    gw.rasa.script = script
    conv = await gw.start()
    cid = conv["conversation_id"]
    body = (await gw.send(conv, MODEL_ONLY)).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert _said(gw, cid) == [EMERGENCY]  # Rasa's copy is not stored or sent
    assert _handoffs(gw, cid) == ["urgent"]
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)


async def test_queued_model_raises_to_urgent_without_a_second_handoff(
    gw: Harness,
) -> None:
    gw.rasa.parse_script = lambda text: "report_risk" if "pictures" in text else "deny"
    conv = await _queued(gw)
    cid = conv["conversation_id"]
    body = (await gw.send(conv, MODEL_ONLY)).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert body["status"] == "queued"
    assert gw.rasa.parsed == [MODEL_ONLY]
    assert gw.rasa.texts() == ["I'd like to talk to a person"]  # no bot turn
    assert _handoffs(gw, cid) == ["asked_for_person"]
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)
    person = _messages(gw, cid)[-3]
    assert (person.content, person.intent, person.urgent) == (
        MODEL_ONLY,
        "report_risk",
        True,
    )


async def test_queued_ordinary_message_is_classified_and_stays_quiet(
    gw: Harness,
) -> None:
    conv = await _queued(gw)
    cid = conv["conversation_id"]
    body = (await gw.send(conv, "Thanks, I'll wait for the adviser")).json()
    assert body["replies"] == []
    last = _messages(gw, cid)[-1]
    assert (last.intent, last.urgent) == ("funding", False)
    assert not _conversation(gw, cid).urgent


async def test_assigned_floor_raises_to_urgent(gw: Harness) -> None:
    conv = await _queued(gw)
    cid = conv["conversation_id"]
    with gw.db() as s, s.begin():
        service.claim(s, conversation_id=cid, adviser=_adviser(s))
    body = (await gw.send(conv, "she's just told me she wants to kill herself")).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert body["status"] == "assigned"
    _assert_urgent(gw, cid, ConversationStatus.ASSIGNED)
    assert _handoffs(gw, cid) == ["asked_for_person"]


async def test_resolved_floor_hands_over_again_as_urgent(gw: Harness) -> None:
    conv = await _queued(gw)
    cid = conv["conversation_id"]
    with gw.db() as s, s.begin():
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=_adviser(s),
            outcome="answered",
        )
    body = (await gw.send(conv, "there's a fire in the hall")).json()
    assert [r["text"] for r in body["replies"]] == [EMERGENCY]
    assert _handoffs(gw, cid) == ["asked_for_person", "urgent"]
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)
    assert gw.rasa.resumed == []  # the bot is not woken for it


async def test_policy_wording_is_not_urgent(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    text = "Can you send a template for our child protection policy?"
    body = (await gw.send(conv, text)).json()
    assert [r["text"] for r in body["replies"]] == [f"Echo: {text}"]
    assert body["status"] == "bot"
    assert not _conversation(gw, cid).urgent
    queued = await _queued(gw)
    body = (await gw.send(queued, text)).json()
    assert body["replies"] == []
    assert not _conversation(gw, queued["conversation_id"]).urgent


async def test_a_second_risky_message_repeats_the_text_only_after_something_else(
    gw: Harness,
) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    await gw.send(conv, RISKY)
    again = (await gw.send(conv, "he's hitting him again now")).json()
    assert again["replies"] == []  # the emergency text was the last thing said
    assert _said(gw, cid) == [EMERGENCY]
    await gw.pipeline.send_to_person(cid, text="I'm here, are you safe?")
    third = (await gw.send(conv, "he has a knife")).json()
    assert [r["text"] for r in third["replies"]] == [EMERGENCY]
    assert _handoffs(gw, cid) == ["urgent"]
    _assert_urgent(gw, cid, ConversationStatus.QUEUED)
    flagged = [
        m.content for m in _messages(gw, cid) if m.urgent and m.sender == "person"
    ]
    assert flagged == [RISKY, "he's hitting him again now", "he has a knife"]


async def test_rasa_down_the_floor_still_fires(start_gateway: HarnessFactory) -> None:
    async with start_gateway(rasa_up=False) as h:
        conv = await h.start()
        cid = conv["conversation_id"]
        started = time.monotonic()
        body = (await h.send(conv, RISKY)).json()
        assert time.monotonic() - started < 5
        assert [r["text"] for r in body["replies"]] == [EMERGENCY]
        assert _handoffs(h, cid) == ["urgent"]
        # queued because the bot was down, then a disclosure: raised to urgent
        other = await h.start()
        body = (await h.send(other, "We need help with our accounts")).json()
        assert body["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT
        body = (await h.send(other, "a child has gone missing from our club")).json()
        assert [r["text"] for r in body["replies"]] == [EMERGENCY]
        assert _handoffs(h, other["conversation_id"]) == ["bot_unavailable"]
        _assert_urgent(h, other["conversation_id"], ConversationStatus.QUEUED)
        # and an ordinary message with NLU down is simply passed on
        body = (await h.send(other, "thank you")).json()
        assert body["replies"] == []


async def test_a_slow_nlu_is_not_waited_for_long(start_gateway: HarnessFactory) -> None:
    async with start_gateway(rasa_parse_timeout_s=0.5) as h:
        conv = await _queued(h)
        h.rasa.delay = 5
        started = time.monotonic()
        body = (await h.send(conv, "still waiting")).json()
        assert time.monotonic() - started < 3
        assert body["replies"] == []
        body = (
            await h.send(conv, "the hall is flooding and water is coming in")
        ).json()
        assert [r["text"] for r in body["replies"]] == [EMERGENCY]


async def test_out_of_hours_the_emergency_text_comes_before_the_hours(
    gw: Harness,
) -> None:
    gw.set_time(OUT_OF_HOURS)
    conv = await gw.start()
    body = (await gw.send(conv, RISKY)).json()
    texts = [r["text"] for r in body["replies"]]
    assert texts[0] == EMERGENCY
    assert len(texts) == 2 and texts[1].startswith("Our advisers work Mon-Fri")
    assert "on Monday at 09:00" in texts[1]
    again = (await gw.send(conv, "please help, he's hitting him")).json()
    assert again["replies"] == []  # the hours were said once for this hand-over


async def test_the_text_names_scotland_when_the_place_is_there(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    with gw.db() as s, s.begin():
        s.add(
            LocalAuthority(
                code="S12000036",
                name="City of Edinburgh",
                la_type="Unitary authority",
                nation=Nation.SCOTLAND,
            )
        )
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        conversation.lad_code = "S12000036"
    body = (await gw.send(conv, RISKY)).json()
    text = body["replies"][0]["text"]
    assert text == emergency_text("Scotland")
    assert "Police Scotland on 101" in text and "social work department" in text


async def test_advisers_are_told_live_once(gw: Harness) -> None:
    queue = hub.subscribe(hub.QUEUE_TOPIC)
    conv = await gw.start()
    cid = conv["conversation_id"]
    watch = hub.subscribe(hub.conversation_topic(cid))
    try:
        await gw.send(conv, RISKY)
        await gw.send(conv, "he's hitting him again")
        # Published before each answer was sent: already waiting to be read.
        events = []
        while (event := await queue.get(timeout=0.05)) is not None:
            if event.get("conversation_id") == cid:
                events.append(event)
        watched = []
        while (event := await watch.get(timeout=0.05)) is not None:
            watched.append(event)
    finally:
        queue.close()
        watch.close()
    urgent = [e for e in events if e.get("urgent")]
    assert len(urgent) == 1
    person = _messages(gw, cid)[0]
    assert urgent[0]["status"] == "queued" and urgent[0]["reason"] == "urgent"
    assert urgent[0]["message_id"] == person.id
    # the conversation's watchers hear of both urgent messages (to re-show them)
    assert len([e for e in watched if e["type"] == "status" and e.get("urgent")]) == 2
