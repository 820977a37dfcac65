"""'Is this wrong?' through the widget API: queued for the operators, no Rasa turn."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import Conversation, DirectoryReport, Message, Nation, Organisation
from bot.directory.reports import report_button
from tests.gateway.conftest import Harness, HarnessFactory

pytestmark = pytest.mark.integration


async def test_report_is_queued_with_the_area_and_answered(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    await gw.send(conv, "we're a choir in Truro")
    with gw.db() as s, s.begin():
        s.add(
            Organisation(
                id="lio900",
                name="Test CVS",
                kind="CVS",
                is_national=False,
                nation=Nation.ENGLAND,
                confidence="low",
                active=True,
            )
        )
        row = s.get(Conversation, cid)
        assert row is not None
        row.lad_code, row.place_name = "E06000052", "Truro"
    sent_to_rasa = len(gw.rasa.received)
    button = report_button(["lio900", "lio999"])  # lio999 is not in the directory
    response = await gw.send(conv, button["title"], payload=button["payload"])
    assert response.status_code == 200
    replies = [r["text"] for r in response.json()["replies"]]
    assert replies and replies[0].startswith("Thank you. We've passed this")
    assert len(gw.rasa.received) == sent_to_rasa  # answered without Rasa
    with gw.db() as s:
        reports = list(s.scalars(select(DirectoryReport)))
        assert [
            (r.organisation_id, r.lad_code, r.place_name, r.status) for r in reports
        ] == [("lio900", "E06000052", "Truro", "open")]
        assert reports[0].conversation_id == cid and reports[0].channel == "web"
        stored = list(
            s.scalars(select(Message.content).where(Message.conversation_id == cid))
        )
        assert (
            "Is this wrong?" in stored
        )  # the person's click is stored like any message


async def test_a_malformed_report_payload_never_reaches_rasa(gw: Harness) -> None:
    conv = await gw.start()
    response = await gw.send(conv, "Is this wrong?", payload="/directory_report{oops")
    assert response.status_code == 200
    assert response.json()["replies"][0]["text"].startswith(
        "Thank you. I couldn't tell"
    )
    assert gw.rasa.received == []
    with gw.db() as s:
        assert list(s.scalars(select(DirectoryReport))) == []


async def test_is_this_wrong_on_telegram_is_an_inline_button(
    start_gateway: HarnessFactory,
) -> None:
    from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway

    button = report_button(["lio901"])

    def script(sender: str, text: str) -> dict[str, Any]:
        return {
            "messages": [
                {
                    "text": "The local support organisation: Test CVC.",
                    "buttons": [button],
                }
            ],
            "intent": {"name": "funding", "confidence": 0.9},
            "paused": False,
        }

    async with telegram_gateway(start_gateway) as (h, api):
        with h.db() as s, s.begin():
            s.add(
                Organisation(
                    id="lio901",
                    name="Test CVC",
                    kind="CVC",
                    is_national=False,
                    nation=Nation.WALES,
                    confidence="medium",
                    active=True,
                )
            )
        h.rasa.script = script
        await post_update(h, api.text_update(CHAT, "we're in Bangor"))
        sent = (await api.wait_for("sendMessage", 1))[0]
        keyboard = sent["reply_markup"]["inline_keyboard"]
        assert keyboard[0][0]["text"] == "Is this wrong?"
        to_rasa = len(h.rasa.received)
        await post_update(h, api.callback_update(CHAT, keyboard[0][0]["callback_data"]))
        await api.wait_for("sendMessage", 2)
        assert api.sent_texts(CHAT)[-1].startswith("Thank you. We've passed this")
        assert len(h.rasa.received) == to_rasa
        with h.db() as s:
            rows = list(s.scalars(select(DirectoryReport)))
            assert [(r.organisation_id, r.channel) for r in rows] == [
                ("lio901", "telegram")
            ]


async def test_the_thanks_is_in_the_conversations_language(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    await gw.send(conv, "helo")
    with gw.db() as s, s.begin():
        row = s.get(Conversation, cid)
        assert row is not None
        row.language = "cy"
    button = report_button(["lio999"], "cy")
    assert button["title"] == "Ydy hyn yn anghywir?"
    response = await gw.send(conv, button["title"], payload=button["payload"])
    assert response.json()["replies"][0]["text"].startswith("Diolch.")
