"""The Telegram channel: real python-telegram-bot against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db.models import Conversation, Message, MessageType
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"
CHAT = 424242


@asynccontextmanager
async def telegram_gateway(
    start_gateway: HarnessFactory,
    *,
    mode: str = "webhook",
    api: FakeBotApi | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[Harness, FakeBotApi]]:
    """A gateway with Telegram against a fresh Bot API fake (or ``api``)."""
    api = api or FakeBotApi()
    async with serve(api.app()) as api_url:
        async with start_gateway(
            telegram_bot_token=api.token,
            telegram_webhook_secret=SECRET,
            telegram_base_url=f"{api_url}/bot",
            telegram_mode=mode,
            **settings,
        ) as h:
            yield h, api


async def post_update(
    h: Harness, update: dict[str, Any], secret: str | None = SECRET
) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await h.http.post(WEBHOOK_PATH, json=update, headers=headers)


async def post_answered(h: Harness, update: dict[str, Any]) -> None:
    """Post an update and wait for its turn to end, as a person waits for the
    answer before writing again (messages sent faster are one burst)."""
    assert (await post_update(h, update)).status_code == 200
    source = f"update:{update['update_id']}"

    def answered() -> bool:
        with h.db() as s:
            return bool(
                s.scalar(select(Message.answered_at).where(Message.source_id == source))
            )

    await until(answered, what=f"{source} answered")


def stored(h: Harness) -> list[Message]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message)
                .join(Conversation)
                .where(Conversation.channel == "telegram")
                .order_by(Message.id)
            )
        )


async def test_startup_registers_webhook_with_secret(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        assert api.called("getMe")
        webhook = api.called("setWebhook")[0]
        assert webhook["url"].endswith(WEBHOOK_PATH)
        assert webhook["secret_token"] == SECRET


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_webhook_without_right_secret_is_403_and_nothing_stored(
    start_gateway: HarnessFactory, secret: str | None
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        response = await post_update(h, api.text_update(CHAT, "hello"), secret=secret)
        assert response.status_code == 403
        await asyncio.sleep(0.3)
        assert stored(h) == []
        assert (
            h.pipeline.settings
            and h.app.state.telegram.application.update_queue.empty()
        )
        assert api.called("sendMessage") == []
        assert h.rasa.received == []


async def test_same_update_three_times_is_stored_and_answered_once(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        update = api.text_update(CHAT, "Can volunteers claim expenses?")
        for _ in range(3):
            assert (await post_update(h, update)).status_code == 200
        await api.wait_for("sendMessage", 1)
        await asyncio.sleep(0.5)
        rows = stored(h)
        incoming = [m for m in rows if m.message_type is MessageType.INCOMING]
        assert len(incoming) == 1
        assert incoming[0].source_id == f"update:{update['update_id']}"
        assert api.sent_texts(CHAT) == ["Echo: Can volunteers claim expenses?"]
        assert len(h.rasa.received) == 1
        metadata = h.rasa.received[0]["metadata"]
        assert metadata == {"channel": "telegram", "language": "en"}


async def test_start_greets_and_buttons_become_inline_keyboard(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "/start"))
        sent = (await api.wait_for("sendMessage", 1))[0]
        assert h.rasa.texts() == ["hello"]
        keyboard = sent["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in keyboard] == ["Funding", "Governance"]
        data = keyboard[0][0]["callback_data"]
        assert len(data.encode()) <= 64

        update = api.callback_update(CHAT, data)
        await post_update(h, update)
        await api.wait_for("sendMessage", 2)
        answered = api.called("answerCallbackQuery")
        assert [a["callback_query_id"] for a in answered] == [
            update["callback_query"]["id"]
        ]
        assert h.rasa.texts()[-1] == "I have a question about funding"
        assert stored(h)[-2].content == "Funding"


async def test_forged_callback_data_is_answered_but_ignored(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "/start"))
        sent = (await api.wait_for("sendMessage", 1))[0]
        data = sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        # Another chat replays this chat's button, and junk data arrives.
        await post_update(h, api.callback_update(CHAT + 1, data))
        await post_update(h, api.callback_update(CHAT, "b999999:0"))
        await api.wait_for("answerCallbackQuery", 2)
        await asyncio.sleep(0.3)
        assert h.rasa.texts() == ["hello"]


async def test_429_every_reply_still_delivered_in_order(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        api.answer_429("sendMessage", 2)
        texts = ["first question", "second question", "third question"]
        for text in texts:
            await post_answered(h, api.text_update(CHAT, text))
        # In order, each once; replies queued while Telegram held the chat off
        # may go as one message.
        echoes = "\n\n".join(f"Echo: {t}" for t in texts)
        await until(
            lambda: "\n\n".join(api.sent_texts(CHAT)) == echoes,
            timeout=20,
            what="every reply",
        )
        refused = [c for c in api.calls if c.answered == 429]
        assert len(refused) == 2
        # No retry storm: 2 refusals, one call per message sent.
        calls = [c for c in api.calls if c.method == "sendMessage"]
        assert len(calls) == 2 + len(api.sent_texts(CHAT))
        for _ in range(50):  # delivered_at is written just after the send returns
            rows = [m for m in stored(h) if m.message_type is MessageType.OUTGOING]
            if all(m.delivered_at is not None for m in rows):
                break
            await asyncio.sleep(0.1)
        assert len(rows) == 3 and all(m.delivered_at is not None for m in rows)


async def test_adviser_reply_is_sent_to_the_chat(start_gateway: HarnessFactory) -> None:
    from bot.gateway.delivery import deliver_to_person

    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "I'd like to talk to a person"))
        await api.wait_for("sendMessage", 1)
        cid = stored(h)[0].conversation_id
        await deliver_to_person(cid, text="Hello, this is Jo, an adviser.")
        await api.wait_for("sendMessage", 2)
        assert api.sent_texts(CHAT)[-1] == "Adviser: Hello, this is Jo, an adviser."


async def test_adviser_moves_are_told_in_the_chat(
    start_gateway: HarnessFactory,
) -> None:
    from bot.conversations import service
    from bot.db.models import Adviser
    from bot.domain.handoff import Transition
    from bot.i18n import text

    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "hello"))
        await api.wait_for("sendMessage", 1)
        cid = stored(h)[0].conversation_id
        with h.db() as s:
            adviser = Adviser(username="jo", display_name="Jo", password_hash="-")
            s.add(adviser)
            service.hand_over(
                s, conversation_id=cid, channel="telegram", reason="asked"
            )
            s.commit()
        for move in (Transition.CLAIM, Transition.RESOLVE):
            with h.db() as s:
                jo = s.get(Adviser, adviser.id)
                service.transition(
                    s, conversation_id=cid, move=move, adviser=jo, outcome="answered"
                )
                s.commit()
        await api.wait_for("sendMessage", 3)
        assert api.sent_texts(CHAT)[1:3] == [
            text("widget.status.claimed"),
            text("widget.status.resolved"),
        ]


async def test_polling_mode_receives_without_webhook(
    start_gateway: HarnessFactory,
) -> None:
    api = FakeBotApi()
    api.pending_updates.append(api.text_update(CHAT, "polled message"))
    async with serve(api.app()) as api_url:
        async with start_gateway(
            telegram_bot_token=api.token,
            telegram_base_url=f"{api_url}/bot",
            telegram_mode="polling",
        ) as h:
            await api.wait_for("sendMessage", 1)
            assert api.sent_texts(CHAT) == ["Echo: polled message"]
            assert api.called("deleteWebhook")
            # The webhook route refuses updates while polling.
            response = await post_update(h, api.text_update(CHAT, "x"), secret="")
            assert response.status_code == 403
