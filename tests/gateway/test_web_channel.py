"""The widget channel end to end over HTTP: store first, route, answer, stream."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
from sqlalchemy import select

from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    Message,
    MessageType,
)
from bot.gateway.channels.web import MAX_TEXT
from bot.gateway.pipeline import BOT_UNAVAILABLE_TEXT
from tests.gateway.conftest import ALLOWED_ORIGIN, OUT_OF_HOURS, Harness, HarnessFactory

pytestmark = pytest.mark.integration


def _messages(h: Harness, cid: str) -> list[Message]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message)
                .where(Message.conversation_id == cid)
                .order_by(Message.id)
            )
        )


async def test_message_is_stored_then_answered_with_intent(gw: Harness) -> None:
    conv = await gw.start()
    response = await gw.send(conv, "Where can we find a grant?")
    assert response.status_code == 200
    body = response.json()
    assert body["message"]["text"] == "Where can we find a grant?"
    assert [r["text"] for r in body["replies"]] == ["Echo: Where can we find a grant?"]
    assert gw.rasa.received[0] == {
        "sender": conv["conversation_id"],
        "message": "Where can we find a grant?",
        "metadata": {"channel": "web", "language": "en"},
    }
    rows = _messages(gw, conv["conversation_id"])
    assert [(m.message_type, m.sender) for m in rows] == [
        (MessageType.INCOMING, "person"),
        (MessageType.OUTGOING, "bot"),
    ]
    assert rows[0].intent == "funding" and rows[0].confidence == pytest.approx(0.93)
    assert rows[0].id < rows[1].id


async def test_quick_reply_payload_goes_to_rasa_title_is_stored(gw: Harness) -> None:
    conv = await gw.start()
    reply = (await gw.send(conv, "hello")).json()["replies"][0]
    assert reply["buttons"][0] == {
        "title": "Funding",
        "payload": "I have a question about funding",
    }
    await gw.send(conv, "Funding", payload="I have a question about funding")
    assert gw.rasa.texts()[-1] == "I have a question about funding"
    assert _messages(gw, conv["conversation_id"])[-2].content == "Funding"


async def test_resend_with_same_client_message_id_is_stored_once(gw: Harness) -> None:
    conv = await gw.start()
    first = await gw.send(conv, "Do trustees get paid?", client_id="client-0001")
    again = await gw.send(conv, "Do trustees get paid?", client_id="client-0001")
    assert first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    rows = _messages(gw, conv["conversation_id"])
    assert [m.message_type for m in rows].count(MessageType.INCOMING) == 1
    assert len(gw.rasa.received) == 1


async def test_concurrent_resends_are_stored_once(gw: Harness) -> None:
    conv = await gw.start()
    results = await asyncio.gather(
        *(gw.send(conv, "same", client_id="client-0002") for _ in range(5))
    )
    assert sorted(r.json()["duplicate"] for r in results) == [False] + [True] * 4
    assert len(gw.rasa.received) == 1


async def test_rasa_down_gives_clear_reply_quickly_and_queues(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway(rasa_up=False) as h:
        conv = await h.start()
        started = time.monotonic()
        response = await h.send(conv, "We need help with our constitution")
        elapsed = time.monotonic() - started
        assert elapsed < 10
        body = response.json()
        assert body["status"] == "queued"
        assert body["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT
        cid = conv["conversation_id"]
        with h.db() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            assert conversation.status is ConversationStatus.QUEUED
            handoffs = s.scalars(select(Handoff).where(Handoff.conversation_id == cid))
            assert [x.reason for x in handoffs] == ["bot_unavailable"]
        rows = _messages(h, cid)
        assert rows[0].content == "We need help with our constitution"
        assert MessageType.ACTIVITY in [m.message_type for m in rows]


async def test_rasa_too_slow_is_treated_as_down(start_gateway: HarnessFactory) -> None:
    async with start_gateway(rasa_timeout_s=1.0) as h:
        h.rasa.delay = 5
        conv = await h.start()
        started = time.monotonic()
        body = (await h.send(conv, "hello?")).json()
        assert time.monotonic() - started < 5
        assert body["status"] == "queued"
        assert body["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT


async def test_action_server_down_503_hands_over(start_gateway: HarnessFactory) -> None:
    async with start_gateway() as h:
        h.rasa.status_code = 503
        conv = await h.start()
        body = (await h.send(conv, "Volunteer expenses?")).json()
        assert body["status"] == "queued"
        assert _messages(h, conv["conversation_id"])[0].content == "Volunteer expenses?"


async def test_queued_conversation_does_not_reach_rasa(gw: Harness) -> None:
    conv = await gw.start()
    handed = (await gw.send(conv, "I'd like to talk to a person")).json()
    assert handed["status"] == "queued"
    calls = len(gw.rasa.received)
    body = (await gw.send(conv, "Are you there?")).json()
    assert body["replies"] == [] and body["status"] == "queued"
    assert len(gw.rasa.received) == calls
    rows = _messages(gw, conv["conversation_id"])
    assert rows[-1].content == "Are you there?"
    assert rows[-1].message_type is MessageType.INCOMING


async def test_out_of_hours_notice_once_per_handoff_and_email_kept(
    gw: Harness,
) -> None:
    gw.set_time(OUT_OF_HOURS)
    conv = await gw.start()
    body = (await gw.send(conv, "talk to a person please")).json()
    texts = [r["text"] for r in body["replies"]]
    assert texts[0].startswith("I'm passing you")
    assert "Monday at 09:00" in texts[1] and "email" in texts[1]
    again = (await gw.send(conv, "I'd like to talk to a person")).json()
    assert again["replies"] == []
    mail = (await gw.send(conv, "It's sam@riverside.example, thanks.")).json()
    assert (
        len(mail["replies"]) == 1
        and "sam@riverside.example" in mail["replies"][0]["text"]
    )
    assert (await gw.send(conv, "or sam2@riverside.example")).json()["replies"] == []
    with gw.db() as s:
        conversation = s.get(Conversation, conv["conversation_id"])
        assert conversation is not None
        assert conversation.contact_email == "sam2@riverside.example"
    notices = [
        m for m in _messages(gw, conv["conversation_id"]) if "Monday" in m.content
    ]
    assert len(notices) == 1


async def test_in_hours_handoff_has_no_hours_notice(gw: Harness) -> None:
    conv = await gw.start()
    body = (await gw.send(conv, "talk to a person please")).json()
    assert len(body["replies"]) == 1


async def test_resolved_conversation_reopens_and_resumes_rasa(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    with gw.db() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        conversation.status = ConversationStatus.RESOLVED
        s.commit()
    body = (await gw.send(conv, "One more question")).json()
    assert body["status"] == "bot"
    assert gw.rasa.resumed == [cid]
    assert body["replies"][0]["text"] == "Echo: One more question"


async def test_history_after_reload(gw: Harness) -> None:
    conv = await gw.start()
    await gw.send(conv, "first")
    await gw.send(conv, "second")
    resumed = await gw.start(
        conversation_id=conv["conversation_id"], token=conv["token"]
    )
    assert resumed["conversation_id"] == conv["conversation_id"]
    history = (
        await gw.http.get(
            f"/api/widget/conversations/{conv['conversation_id']}/messages",
            params={"token": conv["token"]},
        )
    ).json()
    assert [m["text"] for m in history["messages"]] == [
        "first",
        "Echo: first",
        "second",
        "Echo: second",
    ]
    assert set(history["messages"][0]) == {
        "id",
        "sender",
        "text",
        "buttons",
        "created_at",
        "urgent",  # the widget pins urgent advice; no adviser ids, no notes
    }


async def test_wrong_token_is_refused_and_starts_fresh(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    bad = await gw.http.get(
        f"/api/widget/conversations/{cid}/messages", params={"token": "nope"}
    )
    assert bad.status_code == 403
    sent = await gw.http.post(
        f"/api/widget/conversations/{cid}/messages",
        json={"token": "nope", "client_message_id": "abcdefgh", "text": "hi"},
    )
    assert sent.status_code == 403
    fresh = await gw.start(conversation_id=cid, token="nope")
    assert fresh["conversation_id"] != cid
    assert _messages(gw, cid) == []


async def test_conversation_ids_carry_at_least_128_random_bits(gw: Harness) -> None:
    ids = [(await gw.start())["conversation_id"] for _ in range(20)]
    assert len(set(ids)) == 20
    for cid in ids:
        raw = base64.urlsafe_b64decode(cid + "=" * (-len(cid) % 4))
        assert len(raw) * 8 >= 128


async def test_rate_limit_answers_429_and_rasa_load_stays_flat(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway(widget_rate_limit_per_minute=5) as h:
        conv = await h.start()  # one visitor's budget: starting counts too
        codes = [(await h.send(conv, f"message {i}")).status_code for i in range(8)]
        assert codes == [200] * 4 + [429] * 4
        assert len(h.rasa.received) == 4
        limited = await h.send(conv, "again")
        assert limited.headers["retry-after"].isdigit()
        # a new conversation does not get a fresh budget
        again = await h.http.post("/api/widget/conversations", json={})
        assert again.status_code == 429


async def test_cors_allowlist(gw: Harness) -> None:
    preflight = await gw.http.options(
        "/api/widget/conversations",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    foreign = await gw.http.options(
        "/api/widget/conversations",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    simple = await gw.http.post(
        "/api/widget/conversations", json={}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in simple.headers
    allowed = await gw.http.post(
        "/api/widget/conversations", json={}, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert allowed.headers["access-control-allow-origin"] != "*"


async def test_per_conversation_ordering(gw: Harness) -> None:
    gw.rasa.delay = 0.2
    conv = await gw.start()
    texts = [f"question {i}" for i in range(5)]
    # Fired together: one turn at a time; those sent while the bot answers are
    # stored at once and answered together, as one burst (never a block of
    # replies per message).
    tasks = []
    for text in texts:
        tasks.append(asyncio.create_task(gw.send(conv, text)))
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)
    cid = conv["conversation_id"]
    assert gw.rasa.max_in_flight[cid] == 1
    turns = gw.rasa.texts()
    assert "\n".join(turns).split("\n") == texts  # each heard once, in order
    assert len(turns) < len(texts)
    rows = _messages(gw, cid)
    assert [m.content for m in rows if m.message_type is MessageType.INCOMING] == texts
    assert [m.content for m in rows if m.message_type is MessageType.OUTGOING] == [
        f"Echo: {turn}" for turn in turns
    ]
    assert len(gw.pipeline.locks) == 0


async def test_two_conversations_run_in_parallel(gw: Harness) -> None:
    gw.rasa.delay = 0.5
    a, b = await gw.start(), await gw.start()
    await asyncio.gather(gw.send(a, "a"), gw.send(b, "b"))
    assert gw.rasa.peak_total == 2


async def test_event_stream_relays_replies_typing_and_adviser_messages(
    gw: Harness,
) -> None:
    from bot.gateway.delivery import deliver_to_person

    conv = await gw.start()
    cid = conv["conversation_id"]
    events: list[tuple[str, dict]] = []

    async def listen() -> None:
        async with gw.http.stream(
            "GET",
            f"/api/widget/conversations/{cid}/events",
            params={"token": conv["token"], "after": "0"},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    events.append((kind, json.loads(line[6:])))
                    if kind == "message" and events[-1][1]["sender"] == "adviser":
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    await gw.send(conv, "hello")
    await deliver_to_person(cid, text="Hi, I'm Jo from the CVS.", adviser_id=None)
    await asyncio.wait_for(listener, 10)
    kinds = [k for k, _ in events]
    assert kinds[:4] == ["message", "typing", "typing", "message"]
    assert [e["active"] for k, e in events if k == "typing"] == [True, False]
    texts = [e["text"] for k, e in events if k == "message"]
    assert texts == [
        "hello",
        "Hello! What can I help with?",
        "Hi, I'm Jo from the CVS.",
    ]
    assert all("adviser_id" not in e for k, e in events if k == "message")
    rows = _messages(gw, cid)
    assert rows[-1].sender == "adviser" and rows[-1].delivered_at is not None


async def test_event_stream_replays_after_last_event_id(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    await gw.send(conv, "one")
    first_id = _messages(gw, cid)[0].id
    lines: list[str] = []
    async with gw.http.stream(
        "GET",
        f"/api/widget/conversations/{cid}/events",
        params={"token": conv["token"]},
        headers={"Last-Event-ID": str(first_id)},
    ) as response:
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("data: "):
                break
    assert json.loads(lines[-1][6:])["text"] == "Echo: one"


async def test_pages_carry_a_strict_csp(gw: Harness) -> None:
    page = await gw.http.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and 'src="/widget.js"' in page.text
    script = await gw.http.get("/widget.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"


async def test_bad_requests_are_400(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    url = f"/api/widget/conversations/{cid}/messages"
    for body in (
        {"token": conv["token"], "client_message_id": "abcdefgh", "text": ""},
        {"token": conv["token"], "client_message_id": "short", "text": "hi"},
    ):
        assert (await gw.http.post(url, json=body)).status_code == 400
    json_type = {"Content-Type": "application/json"}
    assert (
        await gw.http.post(url, content=b"not json", headers=json_type)
    ).status_code == 400
    # not declared as JSON: refused before reading (no CORS-simple text/plain)
    assert (await gw.http.post(url, content=b"{}")).status_code == 415
    assert _messages(gw, cid) == []


async def test_a_long_enquiry_is_stored_whole_and_too_long_is_refused(
    gw: Harness,
) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    url = f"/api/widget/conversations/{cid}/messages"
    enquiry = ("We are a village hall committee with a question. " * 120)[:5000]
    ok = await gw.http.post(
        url,
        json={
            "token": conv["token"],
            "client_message_id": "long-0001",
            "text": enquiry,
        },
    )
    assert ok.status_code == 200, ok.text
    too_long = await gw.http.post(
        url,
        json={
            "token": conv["token"],
            "client_message_id": "long-0002",
            "text": "y" * (MAX_TEXT + 1),
        },
    )
    assert too_long.status_code == 413
    assert too_long.json()["max_chars"] == MAX_TEXT >= 5000
    stored = [m.content for m in _messages(gw, cid) if m.sender == "person"]
    assert stored == [enquiry.strip()]  # whole, never cut; the refused one not kept


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_paths_are_404(gw: Harness, method: str) -> None:
    response = await gw.http.request(method, "/api/widget/nothing")
    assert response.status_code in (404, 405)
    assert isinstance(response, httpx.Response)


def test_wildcard_origin_is_refused(migrated_db_url: str) -> None:
    from bot.gateway.app import create_app
    from tests.gateway.conftest import make_settings

    settings = make_settings(
        migrated_db_url, "http://127.0.0.1:9", widget_allowed_origins=["*"]
    )
    with pytest.raises(ValueError, match="not '\\*'"):
        create_app(settings)
