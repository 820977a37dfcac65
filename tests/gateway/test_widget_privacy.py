"""The widget's privacy notice and the person's own "Delete this conversation"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.models import AuditEntry, Conversation
from tests.gateway.conftest import Harness, HarnessFactory

pytestmark = pytest.mark.integration


async def test_the_notice_says_what_how_long_who_and_how_to_ask(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway(
        retention_days=90, privacy_contact="privacy@testshire-cvs.example.org"
    ) as gw:
        conv = await gw.start()
        cid = conv["conversation_id"]
        en = (
            await gw.http.get(f"/api/widget/privacy?lang=en&conversation_id={cid}")
        ).json()
        text = " ".join(en["paragraphs"])
        assert "email address" in text and "advisers" in text
        assert "90 days" in text
        assert "privacy@testshire-cvs.example.org" in text and cid in text
        cy = (await gw.http.get("/api/widget/privacy?lang=cy")).json()
        assert "90 diwrnod" in " ".join(cy["paragraphs"])
        assert cy["delete_button"] == "Dileu'r sgwrs hon"
    async with start_gateway() as gw:
        plain = (await gw.http.get("/api/widget/privacy?lang=xx")).json()
        assert "180 days" in " ".join(plain["paragraphs"])
        assert plain["delete_button"] == "Delete this conversation"


async def test_the_person_deletes_their_own_conversation(gw: Harness) -> None:
    conv = await gw.start()
    cid, token = conv["conversation_id"], conv["token"]
    await gw.send(conv, "How do we apply for a grant?")
    url = f"/api/widget/conversations/{cid}/delete"
    assert (
        await gw.http.post(url, json={"token": "nope", "confirm": True})
    ).status_code == 403
    assert (await gw.http.post(url, json={"token": token})).status_code == 400
    # the same preamble as the other conversation routes: not an object is a 400
    listed = await gw.http.post(url, json=[token, True])
    assert listed.status_code == 400
    assert listed.json() == {"error": "expected a JSON object"}
    with gw.db() as s:
        assert s.get(Conversation, cid) is not None
    done = await gw.http.post(url, json={"token": token, "confirm": True})
    assert done.status_code == 200 and done.json() == {"deleted": True}
    with gw.db() as s:
        assert s.get(Conversation, cid) is None
        [entry] = s.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.actor, entry.conversation_id) == (
            "erased",
            "person",
            None,
        )
    # again: the same answer, nothing to tell whether it existed
    again = await gw.http.post(url, json={"token": token, "confirm": True})
    assert again.status_code == 200
    # the old token no longer resumes it: a new conversation starts
    fresh = await gw.start(conversation_id=cid, token=token)
    assert fresh["conversation_id"] != cid
