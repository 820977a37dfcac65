"""A referral end to end: an adviser transfers a conversation to another
organisation in the console; the person is told who will pick it up, and both
organisations' reports count it (sent / received), after the conversation is gone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models import Message, MessageType, ReferralFact
from bot.db.session import session_scope
from bot.i18n import text
from bot.privacy.erasure import erase_conversation
from bot.reports import figures
from tests.console.conftest import Adviser, make_conversation

pytestmark = pytest.mark.integration


async def test_a_transfer_is_a_referral_both_reports_count(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url, organisation_id=None)  # lio900 covers Northdale
    claimed = await adviser.post(f"/console/conversations/{cid}/claim")
    assert claimed.status_code == 303
    response = await adviser.post(
        f"/console/conversations/{cid}/transfer",
        {"organisation": "Testshire Cymru CVC (lio901)", "note": "Anglesey now."},
    )
    assert response.status_code == 303
    with session_scope(db_url) as s:
        told = s.scalars(
            select(Message)
            .where(
                Message.conversation_id == cid,
                Message.message_type == MessageType.OUTGOING,
            )
            .order_by(Message.id.desc())
        ).first()
        assert told is not None and told.sender == "bot"
        assert told.content == text("referrals.passed_on", name="Testshire Cymru CVC")
        assert "Anglesey now." not in told.content  # the note stays internal
    # the person erases the conversation: the referral still counts
    assert erase_conversation(db_url, cid, by="person")
    with session_scope(db_url) as s:
        row = s.scalars(select(ReferralFact)).one()
        assert row.from_organisation_id == "lio900"
        assert row.to_organisation_id == "lio901"
        today = utcnow().date()
        period = {"start": today, "end": today}
        everyone = figures.build(s, **period)
        assert everyone["referrals"]["by_organisation"] == {
            "lio900": {"sent": 1, "received": 0},
            "lio901": {"sent": 0, "received": 1},
        }
        sender = figures.build(s, organisation_id="lio900", **period)
        receiver = figures.build(s, organisation_id="lio901", **period)
        assert (sender["referrals"]["sent"], sender["referred_on"]) == (1, 1)
        assert receiver["referrals"]["received"] == 1
        assert receiver["enquiries"] == 1  # routed to it since the transfer
