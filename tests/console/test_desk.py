"""Sharing the work: assign, take over, transfer to another organisation (the
transfers table), availability, saved replies and the "/" shortcut's data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot.db.models import (
    Adviser as AdviserRow,
)
from bot.db.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageType,
    ReferralFact,
    SavedReply,
    Transfer,
)
from bot.db.session import session_scope
from tests.console.conftest import (
    BASE,
    Adviser,
    make_adviser,
    make_conversation,
    sign_in,
)

pytestmark = pytest.mark.integration


def _order(html: str) -> list[str]:
    return re.findall(r'data-conversation="([^"]+)"', html)


def _conversation(db_url: str, cid: str) -> Conversation:
    with session_scope(db_url) as s:
        c = s.get(Conversation, cid)
        assert c is not None
        s.expunge(c)
        return c


def _activity(db_url: str, cid: str) -> list[str]:
    with session_scope(db_url) as s:
        return list(
            s.scalars(
                select(Message.content)
                .where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.ACTIVITY,
                )
                .order_by(Message.id)
            )
        )


@pytest.fixture
async def pat(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> AsyncIterator[Adviser]:
    """An adviser at Testshire CVS (lio900)."""
    adviser_id = make_adviser(
        db_url, "pat", name="Pat Testshire", organisation_id="lio900"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        yield Adviser(adviser_id, c, await sign_in(c, "pat"))


async def test_assign_to_a_colleague_then_they_hand_it_on_and_it_is_taken_over(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert f'<option value="{second_adviser.id}">Sam Second (available, 0 open)' in page
    done = await adviser.post(
        f"/console/conversations/{cid}/assign", {"adviser_id": str(second_adviser.id)}
    )
    assert done.status_code == 303 and done.headers["location"].endswith(
        "notice=assigned"
    )
    c = _conversation(db_url, cid)
    assert (c.status, c.assignee_id) == (ConversationStatus.ASSIGNED, second_adviser.id)
    # Sam sees it as theirs, and can reply
    sam_queue = (await second_adviser.client.get("/console/")).text
    mine = sam_queue.split('id="waiting-heading"')[0]
    assert cid in _order(mine)
    # assigning it again to the same colleague is refused
    again = await adviser.post(
        f"/console/conversations/{cid}/assign", {"adviser_id": str(second_adviser.id)}
    )
    assert again.status_code == 409
    # Alex takes it over from Sam
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert "Take over from Sam Second" in page
    taken = await adviser.post(f"/console/conversations/{cid}/take-over")
    assert taken.headers["location"].endswith("notice=taken_over")
    c = _conversation(db_url, cid)
    assert (c.status, c.assignee_id) == (ConversationStatus.ASSIGNED, adviser.id)
    assert _activity(db_url, cid) == [
        "Adviser Alex Adviser assigned the conversation to Sam Second",
        "Adviser Alex Adviser took the conversation over",
    ]
    # Sam can no longer reply
    refused = await second_adviser.post(
        f"/console/conversations/{cid}/reply", {"text": "hi"}
    )
    assert refused.status_code == 409


@pytest.mark.parametrize("value", ["", "abc", "0", "999999", "99999999999999"])
async def test_assign_refuses_an_unknown_colleague(
    adviser: Adviser, db_url: str, directory: dict[str, str], value: str
) -> None:
    cid = make_conversation(db_url)
    response = await adviser.post(
        f"/console/conversations/{cid}/assign", {"adviser_id": value}
    )
    assert response.status_code == 400
    assert _conversation(db_url, cid).status is ConversationStatus.QUEUED


async def test_assign_only_to_a_colleague_who_may_see_it(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)  # Northdale: lio900's area
    wyn = make_adviser(db_url, "wyn", name="Wyn Other", organisation_id="lio901")
    response = await adviser.post(
        f"/console/conversations/{cid}/assign", {"adviser_id": str(wyn)}
    )
    assert response.status_code == 400
    assert _conversation(db_url, cid).assignee_id is None


async def test_transfer_to_another_organisation_with_a_note(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url, organisation_id=None)  # lio900 covers Northdale
    assert (
        await adviser.post(f"/console/conversations/{cid}/claim")
    ).status_code == 303
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert '<option value="Testshire Cymru CVC (lio901)">' in page
    response = await adviser.post(
        f"/console/conversations/{cid}/transfer",
        {
            "organisation": "Testshire Cymru CVC (lio901)",
            "note": "They run their group on Anglesey now.",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?notice=transferred")
    c = _conversation(db_url, cid)
    assert (c.status, c.assignee_id, c.organisation_id) == (
        ConversationStatus.QUEUED,
        None,
        "lio901",
    )
    with session_scope(db_url) as s:
        transfers = s.scalars(select(Transfer)).all()
        assert [
            (t.conversation_id, t.from_organisation_id, t.to_organisation_id, t.note)
            for t in transfers
        ] == [(cid, "lio900", "lio901", "They run their group on Anglesey now.")]
        assert transfers[0].adviser_id == adviser.id and transfers[0].created_at
        notes = s.scalars(
            select(Message.content).where(
                Message.conversation_id == cid, Message.message_type == MessageType.NOTE
            )
        ).all()
        referrals = s.scalars(select(ReferralFact)).all()  # what the reports count
        assert [
            (r.conversation_id, r.from_organisation_id, r.to_organisation_id)
            for r in referrals
        ] == [(cid, "lio900", "lio901")]
        assert notes == [
            "Transfer note for Testshire Cymru CVC: "
            "They run their group on Anglesey now."
        ]
    assert _activity(db_url, cid)[-1] == (
        "Adviser Alex Adviser transferred the conversation to Testshire Cymru CVC"
    )
    # it is in lio901's queue now, and out of lio900's
    assert cid in _order(
        (await adviser.client.get("/console/?organisation=lio901")).text
    )
    assert cid not in _order(
        (await adviser.client.get("/console/?organisation=lio900")).text
    )


@pytest.mark.parametrize(
    "organisation",
    ["Testshire Cymru CVC", "Nowhere (lio999)", "Testshire CVS (lio900)"],
)
async def test_transfer_refuses_unknown_or_same_organisations(
    adviser: Adviser, db_url: str, directory: dict[str, str], organisation: str
) -> None:
    cid = make_conversation(db_url, organisation_id="lio900")
    response = await adviser.post(
        f"/console/conversations/{cid}/transfer", {"organisation": organisation}
    )
    assert response.status_code in (400, 409)
    with session_scope(db_url) as s:
        assert s.scalars(select(Transfer)).all() == []
    assert _conversation(db_url, cid).organisation_id == "lio900"


async def test_transfer_of_a_colleagues_conversation_is_refused(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=second_adviser.id
    )
    response = await adviser.post(
        f"/console/conversations/{cid}/transfer",
        {"organisation": "Testshire Cymru CVC (lio901)"},
    )
    assert response.status_code == 409
    assert _conversation(db_url, cid).assignee_id == second_adviser.id


async def test_availability_is_shown_to_colleagues(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    queue = (await adviser.client.get("/console/")).text
    assert "You are available." in queue and "Sam Second: available, 0 open" in queue
    response = await second_adviser.post(
        "/console/availability", {"availability": "away"}
    )
    assert response.status_code == 303
    with session_scope(db_url) as s:
        row = s.get(AdviserRow, second_adviser.id)
        assert row is not None and row.availability == "away"
    queue = (await adviser.client.get("/console/")).text
    assert "Sam Second: away, 0 open" in queue
    own = (await second_adviser.client.get("/console/")).text
    assert "You are away." in own and "Set me available" in own
    bad = await second_adviser.post("/console/availability", {"availability": "asleep"})
    assert bad.status_code == 400


async def test_saved_replies_own_and_shared_with_the_organisation(
    adviser: Adviser, pat: Adviser, app: Starlette, db_url: str
) -> None:
    created = await pat.post(
        "/console/saved-replies",
        {
            "shortcut": "/Gift-Aid",
            "title": "Gift Aid basics",
            "text": "Gift Aid lets charities claim back basic rate tax.",
            "scope": "organisation",
        },
    )
    assert created.status_code == 303
    await pat.post(
        "/console/saved-replies",
        {"shortcut": "hello", "title": "Hello", "text": "Hello, this is Pat."},
    )
    taken = await pat.post(
        "/console/saved-replies",
        {"shortcut": "hello", "title": "Again", "text": "Again"},
    )
    assert taken.status_code == 400
    with session_scope(db_url) as s:
        rows = {r.shortcut: r for r in s.scalars(select(SavedReply))}
        assert set(rows) == {"gift-aid", "hello"}
        assert rows["gift-aid"].organisation_id == "lio900"
        assert rows["gift-aid"].adviser_id is None
        assert rows["hello"].adviser_id == pat.id
    # a colleague at lio900 sees the shared one, not Pat's own
    make_adviser(db_url, "kim", name="Kim Colleague", organisation_id="lio900")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        await sign_in(c, "kim")
        page = (await c.get("/console/saved-replies")).text
        assert "/gift-aid" in page and "Gift Aid basics" in page
        assert "Hello, this is Pat." not in page
    # Alex (no organisation) sees neither
    page = (await adviser.client.get("/console/saved-replies")).text
    assert "gift-aid" not in page and "You have no saved replies yet." in page
    # in Pat's reply box, with the data the "/" list reads, and sent by id
    cid = make_conversation(db_url)
    await pat.post(f"/console/conversations/{cid}/claim")
    page = (await pat.client.get(f"/console/conversations/{cid}")).text
    assert 'data-shortcut="gift-aid"' in page and 'data-shortcut="hello"' in page
    assert 'data-saved-replies="saved-replies"' in page
    sent = await pat.post(
        f"/console/conversations/{cid}/reply", {"saved": str(rows["hello"].id)}
    )
    assert sent.status_code == 303
    with session_scope(db_url) as s:
        last = s.scalars(
            select(Message)
            .where(Message.conversation_id == cid)
            .order_by(Message.id.desc())
        ).first()
        assert last is not None and last.content == "Hello, this is Pat."
        assert last.sender == "adviser"
    # Alex cannot delete Pat's; Pat can
    own_id = rows["hello"].id
    assert (
        await adviser.post(f"/console/saved-replies/{own_id}/delete")
    ).status_code == 404
    assert (
        await pat.post(f"/console/saved-replies/{own_id}/delete")
    ).status_code == 303
    with session_scope(db_url) as s:
        assert s.get(SavedReply, own_id) is None


@pytest.mark.parametrize(
    "form",
    [
        {"shortcut": "", "title": "t", "text": "x"},
        {"shortcut": "!!!", "title": "t", "text": "x"},
        {"shortcut": "ok", "title": "", "text": "x"},
        {"shortcut": "ok", "title": "t", "text": ""},
        {"shortcut": "ok", "title": "t", "text": "x", "scope": "organisation"},
    ],
)
async def test_saved_reply_validation(
    adviser: Adviser, db_url: str, form: dict[str, str]
) -> None:
    # Alex has no organisation, so a shared reply is refused too
    response = await adviser.post("/console/saved-replies", form)
    assert response.status_code == 400
    with session_scope(db_url) as s:
        assert s.scalars(select(SavedReply)).all() == []


async def test_search_and_colleagues_keep_to_the_advisers_organisations(
    pat: Adviser, app: Starlette, db_url: str
) -> None:
    """Search, earlier conversations and the colleague list go through the same
    scoping as the queue (issue 13): an adviser of lio901 sees none of lio900's."""
    ours = make_conversation(db_url, status=ConversationStatus.RESOLVED)  # Northdale
    theirs = make_conversation(
        db_url,
        status=ConversationStatus.RESOLVED,
        lad_code="W06000001",
        place_name="Holyhead",
        organisation_id="lio901",
    )
    make_adviser(db_url, "wyn", name="Wyn Other", organisation_id="lio901")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        await sign_in(c, "wyn")
        found = _order((await c.get("/console/search?q=minibus")).text)
        assert found == [theirs]
        queue = (await c.get("/console/")).text
        assert "Pat Testshire" not in queue  # not a colleague of Wyn's
    found = _order((await pat.client.get("/console/search?q=minibus")).text)
    assert found == [ours]
