"""Channel flows through the real stack (Rasa, action server, gateway): Telegram
triage and hand-over, and the action server going down mid-conversation."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest

from bot.db.models import ConversationStatus, MessageType
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.gateway.pipeline import BOT_UNAVAILABLE_TEXT
from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e


def post_update(stack: E2EStack, update: dict[str, Any]) -> None:
    response = httpx.post(
        stack.gateway_url + WEBHOOK_PATH,
        json=update,
        headers={SECRET_HEADER: stack.telegram_secret},
        timeout=10,
    )
    assert response.status_code == 200


def test_telegram_triage_and_handoff(stack: E2EStack) -> None:
    api = stack.bot_api
    chat = 5_000_000 + secrets.randbelow(1_000_000)

    def sent_here() -> list[dict[str, Any]]:
        return [p for p in api.called("sendMessage") if int(p["chat_id"]) == chat]

    def wait_for_text(part: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sent = sent_here()
            if any(part in p["text"] for p in sent):
                return sent
            time.sleep(0.1)
        raise AssertionError(f"no reply with {part!r}: {[p['text'] for p in sent]}")

    post_update(stack, api.text_update(chat, "/start"))
    wait_for_text("Front Door")
    post_update(
        stack,
        api.text_update(chat, "How can we find a grant for our community garden?"),
    )
    wait_for_text("Where is your group based")

    post_update(stack, api.text_update(chat, "Truro"))
    wait_for_text("Cornwall Voluntary Sector Forum")
    offer = wait_for_text("talk to a human adviser about this")[-1]
    keyboard = offer["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["text"] == "Yes, talk to an adviser"

    callback = api.callback_update(chat, keyboard[0][0]["callback_data"])
    post_update(stack, callback)
    answered = api.wait_for_sync("answerCallbackQuery", 1, timeout=10)
    assert callback["callback_query"]["id"] in [
        a["callback_query_id"] for a in answered
    ]
    sent = wait_for_text("human adviser now")

    # The conversation is queued; the bot stays silent from now on.
    incoming = stack.messages(_conversation_of(stack, chat))
    conversation = stack.conversation(incoming[0].conversation_id)
    assert conversation is not None
    assert conversation.status is ConversationStatus.QUEUED
    assert [m.content for m in incoming if m.message_type is MessageType.INCOMING] == [
        "/start",
        "How can we find a grant for our community garden?",
        "Truro",
        "Yes, talk to an adviser",
    ]
    count = len(sent)
    post_update(stack, api.text_update(chat, "Thanks, I'll wait"))
    time.sleep(1.5)
    assert len(sent_here()) == count


def _conversation_of(stack: E2EStack, chat: int) -> str:
    from sqlalchemy import select

    from bot.db.models import Conversation
    from bot.db.session import session_scope

    with session_scope(stack.database_url) as session:
        found = session.scalar(
            select(Conversation.id).where(
                Conversation.channel == "telegram",
                Conversation.channel_user_id == str(chat),
            )
        )
    assert found is not None
    return found


def test_action_server_down_queues_with_a_clear_reply(stack: E2EStack) -> None:
    actions = stack.services.service("actions")
    client = httpx.Client(base_url=stack.gateway_url, timeout=30)
    conv = client.post("/api/widget/conversations", json={}).json()
    url = f"/api/widget/conversations/{conv['conversation_id']}/messages"
    actions.stop()
    try:
        # Past the Rasa channel's 5 s memory of a healthy action server.
        time.sleep(5.5)
        started = time.monotonic()
        response = client.post(
            url,
            json={
                "token": conv["token"],
                "client_message_id": secrets.token_hex(8),
                "text": "How do we recruit new trustees?",
            },
        )
        elapsed = time.monotonic() - started
    finally:
        actions.start()
    body = response.json()
    assert elapsed < 10
    assert body["status"] == "queued"
    assert body["replies"][0]["text"] == BOT_UNAVAILABLE_TEXT
    stored = stack.messages(conv["conversation_id"])
    assert stored[0].content == "How do we recruit new trustees?"
    deadline = time.monotonic() + 60
    while not actions.is_ready():
        assert time.monotonic() < deadline, stack.log("actions")
        time.sleep(0.5)
