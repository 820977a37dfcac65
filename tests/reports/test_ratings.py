"""The "Did this help?" question through the real gateway (fake Rasa): asked once
when the assistant's answer is taken or an adviser resolves, never when someone
was at risk; the buttons answered before Rasa, on the widget and on Telegram."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.conversations import service
from bot.db.models import (
    Adviser,
    Conversation,
    ConversationFacts,
    Message,
    MessageType,
)
from bot.db.repositories.handoffs import update_triage
from bot.db.session import session_scope
from bot.domain.handoff import Transition
from bot.i18n import text
from bot.reports import ratings
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway

pytestmark = pytest.mark.integration

ANSWER = "Here is what I know about grants."
QUESTION = text("ratings.question")


def script(h: Harness) -> Any:
    """Rasa as the real one answers these turns (the action sets the topic)."""

    def answer(sender: str, said: str) -> dict[str, Any]:
        if said == "/deny":
            return {
                "messages": [{"text": "No problem. Is there anything else?"}],
                "intent": {"name": "deny", "confidence": 0.97},
                "paused": False,
            }
        if "person" in said:
            with session_scope(h.settings.database_url) as s:
                conversation = s.get(Conversation, sender)
                service.hand_over_conversation(
                    s, conversation=conversation, reason="asked_for_person"
                )
            return {
                "messages": [{"text": "Passing you to an adviser."}],
                "intent": {"name": "request_human", "confidence": 0.99},
                "paused": True,
            }
        with session_scope(h.settings.database_url) as s:
            update_triage(
                s, conversation_id=sender, channel="web", topic="funding",
                subtopic="grants",
            )
        return {
            "messages": [
                {"text": ANSWER},
                {
                    "text": ratings.OFFER_TEXT,
                    "buttons": [
                        {"title": "Yes, an adviser", "payload": "/request_human"},
                        {"title": "No thanks", "payload": "/deny"},
                    ],
                },
            ],
            "intent": {"name": "funding", "confidence": 0.93},
            "paused": False,
        }

    return answer


def facts(h: Harness, cid: str) -> ConversationFacts:
    with h.db() as s:
        row = s.get(ConversationFacts, cid)
        assert row is not None
        return row


def adviser(h: Harness) -> Adviser:
    with session_scope(h.settings.database_url) as s:
        a = Adviser(username="alex", display_name="Alex", password_hash="x")
        s.add(a)
        s.flush()
        s.expunge(a)
        return a


def resolve(h: Harness, cid: str, who: Adviser, outcome: str = "answered") -> None:
    with session_scope(h.settings.database_url) as s:
        service.transition(
            s, conversation_id=cid, move=Transition.RESOLVE, adviser=who,
            outcome=outcome,
        )


async def test_the_answer_taken_asks_once_and_the_buttons_skip_rasa(
    gw: Harness,
) -> None:
    gw.rasa.script = script(gw)
    conv = await gw.start()
    cid = conv["conversation_id"]
    first = (await gw.send(conv, "Where can we get a grant for a minibus?")).json()
    assert QUESTION not in [r["text"] for r in first["replies"]]
    declined = (await gw.send(conv, "No thanks", payload="/deny")).json()
    asked = declined["replies"][-1]
    assert asked["text"] == QUESTION
    assert [b["payload"] for b in asked["buttons"]] == [
        f'/rate{{"score":{n}}}' for n in range(1, 6)
    ]
    sent_to_rasa = list(gw.rasa.texts())
    rated = (await gw.send(conv, "4", payload='/rate{"score":4}')).json()
    assert rated["replies"][0]["text"] == text("ratings.thanks")
    assert rated["replies"][0]["buttons"][0]["payload"] == ratings.COMMENT_PAYLOAD
    # a second score, or a made-up one, changes nothing
    await gw.send(conv, "1", payload='/rate{"score":1}')
    await gw.send(conv, "9", payload='/rate{"score":9}')
    row = facts(gw, cid)
    assert row.rating == 4 and row.assistant_accepted_at is not None
    # the optional comment: the next message after "Add a comment"
    prompt = (await gw.send(conv, "Add a comment", payload="/rate_comment")).json()
    assert prompt["replies"][0]["text"] == text("ratings.comment_prompt")
    thanks = (await gw.send(conv, "Clear and quick, thank you")).json()
    assert thanks["replies"][0]["text"] == text("ratings.comment_thanks")
    with gw.db() as s:
        comment = s.scalars(
            select(Message).where(
                Message.conversation_id == cid, Message.intent == "rating_comment"
            )
        ).one()
        assert comment.content == "Clear and quick, thank you"
    # none of the rating turns (nor the payload "9") went to Rasa's dialogue
    assert gw.rasa.texts() == sent_to_rasa
    # thanked again later: never asked twice
    again = (await gw.send(conv, "Another grant question")).json()
    await gw.send(conv, "No thanks", payload="/deny")
    assert QUESTION not in [r["text"] for r in again["replies"]]
    with gw.db() as s:
        asks = s.scalars(
            select(Message).where(
                Message.conversation_id == cid, Message.content == QUESTION
            )
        ).all()
        assert len(asks) == 1


async def test_a_resolve_asks_but_never_after_an_urgent_conversation(
    gw: Harness,
) -> None:
    gw.rasa.script = script(gw)
    who = adviser(gw)
    calm, urgent = await gw.start(), await gw.start()
    await gw.send(calm, "Can I talk to a person?")
    await gw.send(urgent, "I want to kill myself")
    assert facts(gw, urgent["conversation_id"]).urgent
    resolve(gw, calm["conversation_id"], who)
    resolve(gw, urgent["conversation_id"], who)
    with gw.db() as s:
        asked = {
            m.conversation_id
            for m in s.scalars(select(Message).where(Message.content == QUESTION))
        }
    assert asked == {calm["conversation_id"]}
    # the widget shows it with its buttons, from the conversation's history
    history = await gw.http.get(
        f"/api/widget/conversations/{calm['conversation_id']}/messages",
        params={"token": calm["token"]},
    )
    shown = [m for m in history.json()["messages"] if m["text"] == QUESTION]
    assert len(shown) == 1 and len(shown[0]["buttons"]) == 5
    rated = await gw.send(calm, "5 – very much", payload='/rate{"score":5}')
    assert rated.json()["status"] == "resolved"  # a rating never reopens it
    assert facts(gw, calm["conversation_id"]).rating == 5
    assert facts(gw, urgent["conversation_id"]).rating_asked_at is None


async def test_telegram_inline_keyboard_rating(start_gateway: HarnessFactory) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        who = adviser(h)
        await post_update(h, api.text_update(CHAT, "Can I talk to a person please?"))
        await api.wait_for("sendMessage", 1)
        with h.db() as s:
            cid = s.scalars(
                select(Message.conversation_id).where(Message.channel == "telegram")
            ).first()
        assert cid is not None
        resolve(h, cid, who)
        sent = await api.wait_for("sendMessage", 3)
        question = sent[-1]
        assert sent[-2]["text"] == text("widget.status.resolved")  # then asked
        assert question["text"] == QUESTION
        keyboard = question["reply_markup"]["inline_keyboard"]
        titles = [button["text"] for row in keyboard for button in row]
        assert titles == [text(f"ratings.score_{n}") for n in range(1, 6)]
        five = [b for row in keyboard for b in row][4]["callback_data"]
        await post_update(h, api.callback_update(CHAT, five))
        await api.wait_for("sendMessage", 4)
        await until(lambda: facts(h, cid).rating == 5, what="the rating stored")
        assert api.sent_texts(CHAT)[-1] == text("ratings.thanks")
        assert "5 – very much" not in h.rasa.texts()
        with h.db() as s:
            pressed = s.scalars(
                select(Message)
                .where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.INCOMING,
                )
                .order_by(Message.id.desc())
            ).first()
            assert pressed is not None and pressed.content == "5 – very much"
