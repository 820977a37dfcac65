"""A conversation in the console: transcript, replies, notes, canned replies and
the moves (claim, release, resolve, hand back), each with its activity line and
hub events."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    Message,
    MessageType,
    Outbox,
    OutboxState,
)
from bot.db.session import session_scope
from bot.domain.handoff import OUTCOMES
from bot.gateway import hub
from bot.i18n import text as i18n_text
from tests.console.conftest import Adviser, make_conversation, resource

pytestmark = pytest.mark.integration


def _status(db_url: str, cid: str) -> Conversation:
    with session_scope(db_url) as s:
        conv = s.get(Conversation, cid)
        assert conv is not None
        return conv


def _messages(db_url: str, cid: str) -> list[Message]:
    with session_scope(db_url) as s:
        return list(
            s.scalars(
                select(Message)
                .where(Message.conversation_id == cid)
                .order_by(Message.id)
            )
        )


def _replies(db_url: str, cid: str) -> list[dict[str, Any]]:
    """Return the adviser replies stored, each with its outbox row's state."""
    with session_scope(db_url) as s:
        rows = s.execute(
            select(Message, Outbox.state)
            .join(Outbox, Outbox.message_id == Message.id)
            .where(Message.conversation_id == cid, Message.sender == "adviser")
            .order_by(Message.id)
        ).tuples()
        return [
            {
                "text": m.content,
                "adviser_id": m.adviser_id,
                "type": m.message_type,
                "outbox": state,
            }
            for m, state in rows
        ]


async def _drain(sub: hub.Subscription) -> list[dict[str, Any]]:
    events = []
    while (event := await sub.get(timeout=0.05)) is not None:
        events.append(event)
    return events


async def test_transcript_shows_every_kind_with_intent_and_confidence(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url,
        messages=[
            (MessageType.INCOMING, "person", "We need money for a minibus"),
            (MessageType.OUTGOING, "bot", "Here are some grants."),
            (MessageType.ACTIVITY, "system", "Conversation handed over to the queue"),
            (MessageType.NOTE, "adviser", "Check the minibus scheme"),
            (MessageType.OUTGOING, "adviser", "Hello, I'm an adviser"),
        ],
        intent=("ask_funding", 0.873),
    )
    page = await adviser.client.get(f"/console/conversations/{cid}")
    assert page.status_code == 200
    html = page.text
    for text in (
        "We need money for a minibus",
        "Front Door bot",
        "Here are some grants.",
        "Conversation handed over to the queue",
        "internal note, not sent",
        "Check the minibus scheme",
        "Hello, I&#39;m an adviser",
        '<code class="intent">ask_funding</code>',
        '<span class="confidence">87%</span>',
        "Waiting for an adviser",
        "Hand-over summary",
    ):
        assert text in html, text
    assert 'class="msg msg-note from-adviser"' in html
    assert 'class="msg msg-activity"' in html


async def test_claim_then_reply_is_delivered_and_first_one_wins(
    adviser: Adviser,
    second_adviser: Adviser,
    db_url: str,
    directory: dict[str, str],
) -> None:
    cid = make_conversation(db_url)
    queue = hub.subscribe(hub.QUEUE_TOPIC)
    conv_sub = hub.subscribe(hub.conversation_topic(cid))
    try:
        r = await adviser.post(f"/console/conversations/{cid}/claim")
        assert r.status_code == 303
        assert r.headers["location"] == f"/console/conversations/{cid}?notice=claimed"
        lost = await second_adviser.post(f"/console/conversations/{cid}/claim")
        assert lost.status_code == 409
        assert "Another adviser picked this conversation up first" in lost.text
        conv = _status(db_url, cid)
        assert conv.status is ConversationStatus.ASSIGNED
        assert conv.assignee_id == adviser.id
        activity = [
            m for m in _messages(db_url, cid) if m.message_type.value == "activity"
        ]
        assert [m.content for m in activity] == [
            "Adviser Alex Adviser picked up the conversation"
        ]
        events = await _drain(queue)
        assert events == [
            {"type": "status", "conversation_id": cid, "status": "assigned"}
        ]
        conv_events = await _drain(conv_sub)
        assert [e["type"] for e in conv_events] == ["message", "message", "status"]
        assert conv_events[0]["message"]["message_type"] == "activity"
        # the person is told on their channel (bot/i18n: widget.status.claimed)
        told = conv_events[1]["message"]
        assert (told["message_type"], told["sender"]) == ("outgoing", "system")
        assert told["text"] == "An adviser has joined the conversation."

        # only the assignee may reply
        denied = await second_adviser.post(
            f"/console/conversations/{cid}/reply", {"text": "Hi from Sam"}
        )
        assert denied.status_code == 409
        assert _replies(db_url, cid) == []

        page = await adviser.client.get(f"/console/conversations/{cid}?notice=claimed")
        assert "You picked up this conversation." in page.text
        assert 'id="reply-text"' in page.text
        r = await adviser.post(
            f"/console/conversations/{cid}/reply", {"text": "  Hello, I can help.  "}
        )
        assert r.status_code == 303
        # stored with its outbox row; the widget pulls it, so it is delivered
        assert _replies(db_url, cid) == [
            {
                "text": "Hello, I can help.",
                "adviser_id": adviser.id,
                "type": MessageType.OUTGOING,
                "outbox": OutboxState.DELIVERED,
            }
        ]
        page = await adviser.client.get(f"/console/conversations/{cid}")
        assert "Hello, I can help." in page.text
    finally:
        queue.close()
        conv_sub.close()


async def test_reply_validation(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    # not claimed yet: no reply
    r = await adviser.post(f"/console/conversations/{cid}/reply", {"text": "hi"})
    assert r.status_code == 409
    await adviser.post(f"/console/conversations/{cid}/claim")
    assert (
        await adviser.post(f"/console/conversations/{cid}/reply", {"text": "   "})
    ).status_code == 400
    assert (
        await adviser.post(f"/console/conversations/{cid}/reply", {"text": "x" * 20001})
    ).status_code == 400
    assert _replies(db_url, cid) == []
    assert (
        await adviser.post("/console/conversations/nope/reply", {"text": "x"})
    ).status_code == 404


async def test_reply_shows_sending_then_failed_and_can_be_retried(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    """A Telegram reply waits in the outbox (no worker runs here): "sending";
    once given up, "failed" with a retry button that puts it back on its way."""
    cid = make_conversation(db_url, channel="telegram")
    await adviser.post(f"/console/conversations/{cid}/claim")
    r = await adviser.post(f"/console/conversations/{cid}/reply", {"text": "hello"})
    assert r.status_code == 303
    [reply] = _replies(db_url, cid)
    assert reply["outbox"] is OutboxState.PENDING
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert 'data-delivery="pending"' in page and "Sending…" in page
    with session_scope(db_url) as s:
        row = s.scalars(
            select(Outbox)
            .join(Message, Message.id == Outbox.message_id)
            .where(Outbox.conversation_id == cid, Message.sender == "adviser")
        ).one()
        mid = row.message_id
        # what the delivery worker records when it gives up
        row.state, row.attempts, row.last_error = OutboxState.FAILED, 10, "blocked"
    # only a failed one can be retried
    page = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert 'data-delivery="failed"' in page and "Not delivered" in page
    assert f"/messages/{mid}/retry" in page
    sub = hub.subscribe(hub.conversation_topic(cid))
    try:
        r = await adviser.post(f"/console/conversations/{cid}/messages/{mid}/retry")
        assert r.status_code == 303
        events = await _drain(sub)
    finally:
        sub.close()
    assert {"type": "delivery", "conversation_id": cid, "message_id": mid} in events
    with session_scope(db_url) as s:
        row = s.scalars(
            select(Outbox)
            .join(Message, Message.id == Outbox.message_id)
            .where(Outbox.conversation_id == cid, Message.sender == "adviser")
        ).one()
        assert (row.state, row.attempts) == (OutboxState.PENDING, 0)
    again = await adviser.post(f"/console/conversations/{cid}/messages/{mid}/retry")
    assert again.status_code == 409  # pending: nothing to retry
    for bad in ("0", "abc", "99999999999999999999"):
        r = await adviser.post(f"/console/conversations/{cid}/messages/{bad}/retry")
        assert r.status_code == 404, bad


async def test_notes_are_stored_as_notes_and_never_delivered(
    adviser: Adviser,
    db_url: str,
    directory: dict[str, str],
) -> None:
    cid = make_conversation(db_url)
    sub = hub.subscribe(hub.conversation_topic(cid))
    try:
        r = await adviser.post(
            f"/console/conversations/{cid}/notes", {"text": "Called the CVS"}
        )
        assert r.status_code == 303
        notes = [
            m for m in _messages(db_url, cid) if m.message_type is MessageType.NOTE
        ]
        assert [(n.content, n.sender, n.adviser_id) for n in notes] == [
            ("Called the CVS", "adviser", adviser.id)
        ]
        assert _replies(db_url, cid) == []
        with session_scope(db_url) as s:
            assert s.scalars(select(Outbox)).all() == []
        events = await _drain(sub)
        assert [e["message"]["message_type"] for e in events] == ["note"]
    finally:
        sub.close()
    assert (
        await adviser.post(f"/console/conversations/{cid}/notes", {"text": ""})
    ).status_code == 400


async def test_canned_replies_carry_directory_links_only(
    adviser: Adviser,
    db_url: str,
    directory: dict[str, str],
) -> None:
    cid = make_conversation(db_url)  # funding / grants in Northdale (England)
    grants = resource("res014")
    general = resource("res003")
    welsh_dbs = resource("res013")
    page = await adviser.client.get(f"/console/conversations/{cid}")
    assert "Canned replies" not in page.text  # only once picked up
    await adviser.post(f"/console/conversations/{cid}/claim")
    page = await adviser.client.get(f"/console/conversations/{cid}")
    html = page.text
    assert grants["url"] in html  # filed under funding/grants, England
    assert general["url"] in html  # the topic's general page, England and Wales
    assert welsh_dbs["url"] not in html  # another topic, and Wales only
    assert "https://testshire-cvs.example.org" in html  # the LIO's own site
    r = await adviser.post(
        f"/console/conversations/{cid}/reply", {"canned": "resource:res014"}
    )
    assert r.status_code == 303
    sent = _replies(db_url, cid)[-1]["text"]
    assert sent == (
        "This guidance from NCVO should help: Funding and fundraising (guidance "
        "for trustees). https://www.ncvo.org.uk/help-and-guidance/governance/"
        "responsibilities-for-boards/helping-your-board-meet-their-responsibilities/"
        "funding-fundraising/"
    )
    assert grants["url"] == sent.rsplit(" ", 1)[1]
    # a key the conversation is not offered is refused, never guessed
    r = await adviser.post(
        f"/console/conversations/{cid}/reply", {"canned": "resource:res013"}
    )
    assert r.status_code == 400
    assert len(_replies(db_url, cid)) == 1


async def test_canned_replies_follow_the_nation(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(
        db_url, lad_code="W06000001", organisation_id="lio901", place_name="Holyhead"
    )
    await adviser.post(f"/console/conversations/{cid}/claim")
    html = (await adviser.client.get(f"/console/conversations/{cid}")).text
    assert resource("res003")["url"] in html  # England and Wales
    assert resource("res014")["url"] not in html  # NCVO's page is for England
    r = await adviser.post(
        f"/console/conversations/{cid}/reply", {"canned": "resource:res014"}
    )
    assert r.status_code == 400


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_resolve_with_an_outcome(
    adviser: Adviser, db_url: str, directory: dict[str, str], outcome: str
) -> None:
    cid = make_conversation(db_url)
    await adviser.post(f"/console/conversations/{cid}/claim")
    sub = hub.subscribe(hub.QUEUE_TOPIC)
    try:
        r = await adviser.post(
            f"/console/conversations/{cid}/resolve", {"outcome": outcome}
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/console/?notice=resolved"
        assert await _drain(sub) == [
            {"type": "status", "conversation_id": cid, "status": "resolved"}
        ]
    finally:
        sub.close()
    conv = _status(db_url, cid)
    assert conv.status is ConversationStatus.RESOLVED and conv.outcome == outcome
    with session_scope(db_url) as s:
        handoff = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).one()
        assert handoff.outcome == outcome and handoff.resolved_at is not None
    said = _messages(db_url, cid)
    # then the person is asked, once, whether it helped (issue 15), unless
    # the outcome says there is no one to ask (no reply, a duplicate)
    asks = outcome in ("answered", "referred_to_lio", "other")
    line, told = (said[-3], said[-2]) if asks else (said[-2], said[-1])
    assert (told.message_type, told.sender) == (MessageType.OUTGOING, "system")
    assert told.content == i18n_text("widget.status.resolved")
    assert line.message_type is MessageType.ACTIVITY
    assert line.content == (
        f"Adviser Alex Adviser resolved the conversation ({outcome.replace('_', ' ')})"
    )
    if asks:
        assert said[-1].message_type is MessageType.OUTGOING
        assert said[-1].content == i18n_text("ratings.question")
        assert len(said[-1].buttons or []) == 5


async def test_resolve_refuses_unknown_outcomes_and_other_advisers(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    await adviser.post(f"/console/conversations/{cid}/claim")
    r = await adviser.post(
        f"/console/conversations/{cid}/resolve", {"outcome": "made_up"}
    )
    assert r.status_code == 400
    for action, data in (
        ("resolve", {"outcome": "answered"}),
        ("release", {}),
        ("hand-back", {}),
    ):
        r = await second_adviser.post(f"/console/conversations/{cid}/{action}", data)
        assert r.status_code == 409, action
    assert _status(db_url, cid).status is ConversationStatus.ASSIGNED


async def test_release_returns_it_to_the_queue_in_its_place(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url, waited_minutes=30)
    before = _status(db_url, cid).waiting_since
    await adviser.post(f"/console/conversations/{cid}/claim")
    r = await adviser.post(f"/console/conversations/{cid}/release")
    assert r.status_code == 303
    conv = _status(db_url, cid)
    assert conv.status is ConversationStatus.QUEUED and conv.assignee_id is None
    assert conv.waiting_since == before
    *_, moved, told = _messages(db_url, cid)
    assert moved.content == (
        "Adviser Alex Adviser returned the conversation to the queue"
    )
    assert told.sender == "system"
    assert told.content == i18n_text("widget.status.released")
    # releasing again is an illegal move now
    assert (
        await adviser.post(f"/console/conversations/{cid}/release")
    ).status_code == 409


async def test_hand_back_tells_the_bot(
    adviser: Adviser, db_url: str, directory: dict[str, str], fake_resume: list[str]
) -> None:
    cid = make_conversation(db_url)
    await adviser.post(f"/console/conversations/{cid}/claim")
    r = await adviser.post(f"/console/conversations/{cid}/hand-back")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/?notice=handed_back"
    assert fake_resume == [cid]
    conv = _status(db_url, cid)
    assert conv.status is ConversationStatus.BOT
    assert conv.assignee_id is None and conv.waiting_since is None
    *_, moved, told = _messages(db_url, cid)
    assert moved.content == (
        "Adviser Alex Adviser handed the conversation back to the bot"
    )
    assert told.sender == "system"
    assert told.content == i18n_text("widget.status.handed_back")


async def test_hand_back_when_rasa_is_down_still_moves_and_says_so(
    adviser: Adviser, db_url: str, directory: dict[str, str], monkeypatch: Any
) -> None:
    from bot.gateway import rasa_client

    async def down(conversation_id: str) -> None:
        raise rasa_client.RasaUnavailable("connection refused")

    monkeypatch.setattr(rasa_client, "resume", down)
    cid = make_conversation(db_url)
    r = await adviser.post(f"/console/conversations/{cid}/hand-back")  # from queued
    assert r.headers["location"] == "/console/?notice=handed_back_unconfirmed"
    assert _status(db_url, cid).status is ConversationStatus.BOT


async def test_queued_conversation_can_be_resolved_without_claiming(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    r = await adviser.post(
        f"/console/conversations/{cid}/resolve", {"outcome": "duplicate"}
    )
    assert r.status_code == 303
    conv = _status(db_url, cid)
    assert conv.status is ConversationStatus.RESOLVED
    assert conv.assignee_id == adviser.id


async def test_moves_on_a_missing_conversation_are_404(adviser: Adviser) -> None:
    for action in ("claim", "release", "hand-back", "notes"):
        r = await adviser.post(
            f"/console/conversations/missing/{action}", {"text": "x"}
        )
        assert r.status_code == 404, action
    r = await adviser.post(
        "/console/conversations/missing/resolve", {"outcome": "answered"}
    )
    assert r.status_code == 404


async def test_fragments_for_live_refresh(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    ids = [m.id for m in _messages(db_url, cid)]
    frag = await adviser.client.get(
        f"/console/conversations/{cid}/messages?after={ids[0]}"
    )
    assert frag.status_code == 200
    assert f'data-id="{ids[0]}"' not in frag.text
    assert f'data-id="{ids[-1]}"' in frag.text
    panel = await adviser.client.get(f"/console/conversations/{cid}/panel")
    assert 'id="status-panel"' in panel.text and 'id="composer"' in panel.text
    assert 'data-status="queued"' in panel.text
    assert (
        await adviser.client.get("/console/conversations/nope/messages")
    ).status_code == 404
    for after in ("99999999999999999999", "-1", "abc", "²"):
        r = await adviser.client.get(
            f"/console/conversations/{cid}/messages?after={after}"
        )
        assert r.status_code == 200, after


async def test_oversized_form_is_refused_with_413(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    cid = make_conversation(db_url)
    r = await adviser.post(
        f"/console/conversations/{cid}/notes", {"text": "x" * 100_000}
    )
    assert r.status_code == 413
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert [
        m for m in _messages(db_url, cid) if m.message_type is MessageType.NOTE
    ] == []


async def test_reply_through_the_real_gateway_reaches_the_widget_stream(
    db_url: str, directory: dict[str, str]
) -> None:
    """The console inside create_app(): a reply goes through deliver_to_person."""
    import httpx

    from bot.console import auth
    from bot.gateway.app import create_app
    from tests.console.conftest import make_adviser
    from tests.support.servers import serve

    adviser_id = make_adviser(db_url)
    cid = make_conversation(db_url)
    with session_scope(db_url) as s:
        session = auth.new_session(s, adviser_id=adviser_id, ttl=auth.IDLE_TTL)
    assert session.token
    async with serve(create_app()) as base:
        sub = hub.subscribe(hub.conversation_topic(cid))
        async with httpx.AsyncClient(
            base_url=base, cookies={auth.COOKIE_NAME: session.token}
        ) as c:
            form = {"csrf_token": session.csrf_token}
            origin = {"Origin": base}
            r = await c.post(
                f"/console/conversations/{cid}/claim", data=form, headers=origin
            )
            assert r.status_code == 303
            r = await c.post(
                f"/console/conversations/{cid}/reply",
                data={**form, "text": "Hello from the console"},
                headers=origin,
            )
            assert r.status_code == 303, r.text
        events = await _drain(sub)
        sub.close()
    outgoing = [
        e["message"]
        for e in events
        if e["type"] == "message" and e["message"]["message_type"] == "outgoing"
    ]
    assert [(m["text"], m["sender"], m["adviser_id"]) for m in outgoing] == [
        (i18n_text("widget.status.claimed"), "system", None),
        ("Hello from the console", "adviser", adviser_id),
    ]
    stored = [m for m in _messages(db_url, cid) if m.sender == "adviser"]
    assert [m.content for m in stored] == ["Hello from the console"]
    assert _status(db_url, cid).first_reply_at is not None
