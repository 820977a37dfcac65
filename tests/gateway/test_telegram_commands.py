"""The commands people try on Telegram, through the webhook against the Bot API
fake: the menu, /start in every state with its deep link, /help, /privacy,
/human, /restart, /iaith and /delete; the privacy notice in the first reply."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.db.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageType,
    TelegramProfile,
)
from bot.gateway.channels.telegram import COMMANDS
from bot.i18n import text
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway
from tests.gateway.test_telegram_kinds import console_page
from tests.support.fake_bot_api import FakeBotApi
from tests.support.fake_rasa import HANDED_OVER

pytestmark = pytest.mark.integration


def profile(h: Harness, chat: int = CHAT) -> TelegramProfile:
    with h.db() as s:
        found = s.scalars(
            select(TelegramProfile)
            .join(Conversation)
            .where(Conversation.channel_user_id == str(chat))
        ).first()
        assert found is not None
        s.expunge(found)
        return found


def conversation(h: Harness, chat: int = CHAT) -> Conversation:
    with h.db() as s:
        found = s.scalars(
            select(Conversation).where(Conversation.channel_user_id == str(chat))
        ).first()
        assert found is not None
        s.expunge(found)
        return found


def incoming_texts(h: Harness, chat: int = CHAT) -> list[str]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message.content)
                .join(Conversation)
                .where(
                    Conversation.channel_user_id == str(chat),
                    Message.message_type == MessageType.INCOMING,
                )
                .order_by(Message.id)
            )
        )


async def sent(api: FakeBotApi, count: int, chat: int = CHAT) -> list[str]:
    await until(lambda: len(api.sent_texts(chat)) >= count, what=f"{count} sent")
    return api.sent_texts(chat)


async def test_command_menu_is_registered_at_start_up_in_both_languages(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (_h, api):
        assert [c["command"] for c in api.commands[""]] == list(COMMANDS)
        assert [c["command"] for c in api.commands["cy"]] == list(COMMANDS)
        described = {c["command"]: c["description"] for c in api.commands["cy"]}
        assert described["human"] == text("telegram.commands.human", "cy")
        # The webhook asks for what a private chat sends, edits included.
        assert "edited_message" in api.webhook["allowed_updates"]


async def test_start_with_a_deep_link_records_the_source_and_gives_the_notice(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway, telegram_privacy_notice=True) as (
        h,
        api,
    ):
        user = {
            "id": CHAT,
            "is_bot": False,
            "first_name": "Sam",
            "last_name": "Jones",
            "username": "samj",
        }
        update = api.message_update(
            CHAT,
            user=user,
            text="/start riverside-garden",
            entities=[{"type": "bot_command", "offset": 0, "length": 6}],
        )
        await post_update(h, update)
        texts = await sent(api, 2)
        assert h.rasa.texts() == ["hello"]
        # The notice first, then the greeting; stored, so the adviser sees it.
        notice = text("telegram.privacy_notice")
        assert texts == [notice, "Hello! What can I help with?"]
        with h.db() as s:
            said = s.scalars(
                select(Message.content)
                .where(Message.message_type == MessageType.OUTGOING)
                .order_by(Message.id)
            ).all()
            assert said == texts
        found = profile(h)
        assert (found.source, found.display_name, found.username) == (
            "riverside-garden",
            "Sam Jones",
            "samj",
        )
        # Only once.
        await post_update(h, api.text_update(CHAT, "Can volunteers claim expenses?"))
        texts = await sent(api, 3)
        assert texts[2] == "Echo: Can volunteers claim expenses?"
        # A parameter Telegram would never send is not recorded.
        await post_update(h, api.text_update(CHAT, "/start <script>"))
        await sent(api, 4)
        assert profile(h).source == "riverside-garden"


async def test_help_privacy_and_unknown_commands_are_answered_and_stored(
    start_gateway: HarnessFactory,
) -> None:
    # no pacing: one message per answer, never joined (joining queued
    # replies is tested in test_telegram_delivery)
    async with telegram_gateway(start_gateway, telegram_chat_interval_s=0.0) as (
        h,
        api,
    ):
        updates = [
            api.text_update(CHAT, c) for c in ("/help", "/privacy", "/frobnicate")
        ]
        for update in [*updates, updates[0]]:  # /help delivered twice
            await post_update(h, update)
        texts = await sent(api, 3)
        assert texts[0] == text("telegram.help")
        assert texts[1] == text("telegram.privacy")
        assert texts[2].startswith(text("telegram.unknown_command"))
        assert incoming_texts(h) == ["/help", "/privacy", "/frobnicate"]
        assert h.rasa.received == []  # the bot was not asked
        await asyncio.sleep(0.3)
        assert len(api.sent_texts(CHAT)) == 3  # the repeat answered once


async def test_start_and_human_while_queued_are_answered_not_ignored(
    start_gateway: HarnessFactory,
) -> None:
    # no pacing: one message per answer, never joined (joining queued
    # replies is tested in test_telegram_delivery)
    async with telegram_gateway(start_gateway, telegram_chat_interval_s=0.0) as (
        h,
        api,
    ):
        await post_update(h, api.text_update(CHAT, "/human"))
        texts = await sent(api, 1)
        assert texts == [HANDED_OVER]
        assert h.rasa.texts() == ["/request_human"]
        assert conversation(h).status is ConversationStatus.QUEUED
        for command in ("/start", "/human", "/restart"):
            await post_update(h, api.text_update(CHAT, command))
        texts = await sent(api, 4)
        assert texts[1:] == [text("telegram.with_advisers")] * 3
        assert h.rasa.texts() == ["/request_human"]
        assert conversation(h).status is ConversationStatus.QUEUED


async def test_restart_starts_the_bot_afresh(start_gateway: HarnessFactory) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "what about grants"))
        await sent(api, 1)
        await post_update(h, api.text_update(CHAT, "/restart"))
        texts = await sent(api, 2)
        assert texts[1] == text("telegram.restarted")
        assert h.rasa.texts() == ["what about grants", "/restart"]


async def test_iaith_records_the_request_and_answers(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "/iaith"))
        [answer] = await sent(api, 1)
        if hasattr(Conversation, "language"):  # the Welsh work has landed
            assert getattr(conversation(h), "language") == "cy"  # noqa: B009
            assert answer == text("telegram.language_set", "cy")
        else:
            assert answer == text("telegram.language_not_yet")
            assert profile(h).language == "cy"


async def test_delete_asks_first_and_keeps_the_chat_on_no(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "a question first"))
        await sent(api, 1)
        await post_update(h, api.text_update(CHAT, "/delete"))
        await sent(api, 2)
        confirm = api.called("sendMessage")[-1]
        assert confirm["text"] == text("telegram.delete_confirm")
        buttons = confirm["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in buttons] == [
            text("telegram.delete_yes"),
            text("telegram.delete_no"),
        ]
        await post_update(h, api.callback_update(CHAT, buttons[1][0]["callback_data"]))
        texts = await sent(api, 3)
        assert texts[-1] == text("telegram.delete_kept")
        await asyncio.sleep(0.2)
        assert incoming_texts(h)[:2] == ["a question first", "/delete"]
        assert h.rasa.texts() == ["a question first"]


async def test_the_console_card_shows_the_telegram_name_and_source(
    start_gateway: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        user = {
            "id": CHAT,
            "is_bot": False,
            "first_name": "Sam <b>",
            "username": "samj",
        }
        await post_update(
            h, api.message_update(CHAT, user=user, text="/start riverside-garden")
        )
        await sent(api, 1)
        await post_update(h, api.message_update(CHAT, user=user, text="/human"))
        await sent(api, 2)
        page = await console_page(h, monkeypatch, None)
        card = page[page.index(f'data-conversation="{conversation(h).id}"') :]
        card = card[: card.index("</li>")]
        assert "<dt>Telegram</dt><dd>Sam &lt;b&gt; (@samj)</dd>" in card
        assert "<dt>Came from</dt><dd>riverside-garden</dd>" in card


async def test_delete_yes_erases_the_conversation(
    start_gateway: HarnessFactory,
) -> None:
    from bot import privacy

    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "my group is in Leeds"))
        await sent(api, 1)
        await post_update(h, api.text_update(CHAT, "/delete"))
        await sent(api, 2)
        buttons = api.called("sendMessage")[-1]["reply_markup"]["inline_keyboard"]
        await post_update(h, api.callback_update(CHAT, buttons[0][0]["callback_data"]))
        texts = await sent(api, 3)
        if hasattr(privacy, "erase_conversation"):  # the erasure has landed
            assert texts[-1] == text("telegram.deleted")
            with h.db() as s:
                assert s.scalar(select(Conversation.id)) is None
                assert s.scalar(select(Message.id)) is None
                assert s.scalar(select(TelegramProfile.conversation_id)) is None
            # A new message starts a new conversation.
            await post_update(h, api.text_update(CHAT, "hello again"))
            await sent(api, 4)
            assert incoming_texts(h) == ["hello again"]
        else:
            assert texts[-1] == text("telegram.delete_unavailable")
            assert incoming_texts(h)[0] == "my group is in Leeds"
