"""Bursts: messages a person sends while the bot is still answering are all
stored at once and answered together as one turn, on every channel; a risk in
any of them is still caught."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.db.models import Message, MessageType
from bot.domain.safety import emergency_text
from tests.gateway.conftest import Harness, until

pytestmark = pytest.mark.integration

RISKY = "one of the boys at football just told me his dad hits him"


def incoming(h: Harness, cid: str) -> list[Message]:
    with h.db() as s:
        rows = list(
            s.scalars(
                select(Message)
                .where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.INCOMING,
                )
                .order_by(Message.id)
            )
        )
        s.expunge_all()
        return rows


async def burst(h: Harness, texts: list[str]) -> tuple[str, list[dict]]:  # type: ignore[type-arg]
    """Send the first message, then the rest while the bot answers it."""
    conv = await h.start()
    h.rasa.delay = 0.4
    first = asyncio.create_task(h.send(conv, texts[0]))
    await until(lambda: sum(h.rasa.in_flight.values()), what="the first turn")
    rest = []
    for count, words in enumerate(texts[1:], start=2):  # as a person types
        rest.append(asyncio.create_task(h.send(conv, words)))

        def stored(count: int = count) -> bool:
            return len(incoming(h, conv["conversation_id"])) == count

        await until(stored, what="stored")
    answers = [await first, *[await r for r in rest]]
    assert all(a.status_code == 200 for a in answers)
    return conv["conversation_id"], [a.json() for a in answers]


async def test_a_widget_burst_is_stored_first_and_answered_as_one_turn(
    gw: Harness,
) -> None:
    texts = ["We are a small choir.", "We want to buy a piano.", "Any grants?"]
    cid, answers = await burst(gw, texts)
    # Every message stored as sent, each answered.
    rows = incoming(gw, cid)
    assert [m.content for m in rows] == texts
    assert all(m.answered_at is not None for m in rows)
    # The bot heard the first alone, then the rest together: two turns.
    assert gw.rasa.texts() == [texts[0], "\n".join(texts[1:])]
    assert [a["replies"][0]["text"] for a in (answers[0], answers[2])] == [
        f"Echo: {texts[0]}",
        "Echo: " + "\n".join(texts[1:]),
    ]
    assert answers[1]["replies"] == []  # answered by the turn after it
    assert answers[1]["message"]["text"] == texts[1]


async def test_a_risk_inside_a_burst_is_still_caught(gw: Harness) -> None:
    cid, answers = await burst(gw, ["hello", RISKY, "anyway, about grants"])
    rows = incoming(gw, cid)
    assert [m.urgent for m in rows] == [False, True, False]
    told = [r["text"] for a in answers for r in a["replies"]]
    assert emergency_text(None) in told
    assert not any(t.startswith("Echo: " + RISKY) for t in told)
