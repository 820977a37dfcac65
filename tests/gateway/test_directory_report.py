"""'Is this wrong?' through the widget API: queued for the operators, no Rasa turn."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.models import Conversation, DirectoryReport, Message, Nation, Organisation
from bot.directory.reports import report_button
from tests.gateway.conftest import Harness

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
