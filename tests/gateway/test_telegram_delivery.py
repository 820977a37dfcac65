"""What reaches a Telegram chat, and how fast: long replies in ordered parts,
bursts answered as one turn and paced within the fake's flood limit, updates in
update_id order, 429 retry_after through the outbox, keyboards edited after a
press and paged, typing, link previews, the adviser's name."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations import service
from bot.db.models import (
    Adviser,
    Conversation,
    Message,
    MessageType,
    Outbox,
    OutboxState,
)
from bot.db.session import session_scope
from bot.gateway.channels.telegram import MAX_TEXT, PAGE_SIZE, split_text, units
from bot.gateway.delivery import deliver_to_person
from bot.i18n import text
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.integration

INTERVAL = 0.05  # the pacing, scaled down from Telegram's one a second


def conversation_id(h: Harness, chat: int = CHAT) -> str:
    with h.db() as s:
        found = s.scalar(
            select(Conversation.id).where(Conversation.channel_user_id == str(chat))
        )
        assert found is not None
        return found


def incoming(h: Harness, chat: int = CHAT) -> list[Message]:
    with h.db() as s:
        rows = list(
            s.scalars(
                select(Message)
                .join(Conversation)
                .where(
                    Conversation.channel_user_id == str(chat),
                    Message.message_type == MessageType.INCOMING,
                )
                .order_by(Message.id)
            )
        )
        s.expunge_all()
        return rows


def delivered(h: Harness) -> bool:
    with h.db() as s:
        return not s.scalar(
            select(Outbox.id).where(Outbox.state == OutboxState.PENDING).limit(1)
        )


# --------------------------------------------------------------- splitting


def test_split_keeps_every_character_in_order_at_paragraphs_then_sentences() -> None:
    paragraph = "A sentence about Gift Aid rules. " * 40  # ~1,300 characters
    long = "\n\n".join(paragraph.strip() for _ in range(8))  # ~10,500
    parts = split_text(long)
    assert len(parts) == 3
    assert all(units(p) <= MAX_TEXT for p in parts)
    assert all(p.endswith("rules.") for p in parts)  # cut between paragraphs
    assert "\n\n".join(parts) == long
    # No paragraph breaks: cut after a sentence, never mid-word.
    flat = "Short sentence number one. " * 400
    parts = split_text(flat)
    assert all(units(p) <= MAX_TEXT and p.endswith(".") for p in parts)
    assert " ".join(parts) == flat.strip()
    # Telegram counts UTF-16 code units: an emoji is two.
    emoji = "🙂" * 3000
    parts = split_text(emoji)
    assert [units(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == emoji
    assert split_text("short") == ["short"]


# ------------------------------------------------------------- long replies


async def test_a_10000_character_adviser_reply_arrives_as_ordered_parts(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "I'd like to talk to a person"))
        await api.wait_for("sendMessage", 1)
        with h.db() as s:
            adviser = Adviser(username="jo", display_name="Jo Smith", password_hash="x")
            s.add(adviser)
            s.commit()
            adviser_id = adviser.id
        paragraphs = [
            f"Paragraph {i}: " + "Here is what the guidance says about it. " * 24
            for i in range(1, 11)
        ]
        reply = "\n\n".join(p.strip() for p in paragraphs)
        assert 9_900 <= len(reply) <= 10_500
        await deliver_to_person(conversation_id(h), text=reply, adviser_id=adviser_id)
        await until(lambda: len(api.sent_texts(CHAT)) >= 4, what="the parts")
        parts = api.sent_texts(CHAT)[1:]
        assert len(parts) == 3
        assert all(units(p) <= MAX_TEXT for p in parts)
        label = text("telegram.adviser_label", name="Jo")
        assert parts[0].startswith(f"{label} Paragraph 1:")
        assert "\n\n".join(parts) == f"{label} {reply}"  # whole, in order
        await until(lambda: delivered(h), what="delivered")
        with h.db() as s:
            [row] = s.scalars(select(Message).where(Message.sender == "adviser")).all()
            assert row.content == reply and row.delivered_at is not None


# -------------------------------------------------------- bursts and pacing


async def test_a_30_message_burst_is_stored_whole_answered_once_and_paced(
    start_gateway: HarnessFactory,
) -> None:
    # The fake's flood limit scaled down as the pacing is: one message per
    # interval to a chat, no burst allowance, so any faster send is a 429.
    api = FakeBotApi(chat_burst=1, chat_interval_s=INTERVAL * 0.9)
    async with telegram_gateway(
        start_gateway, api=api, telegram_chat_interval_s=INTERVAL
    ) as (h, _):
        h.rasa.delay = 0.3  # the bot is slow; the person types on
        texts = [f"message {i:02d}" for i in range(30)]
        updates = [api.text_update(CHAT, t) for t in texts]
        for update in updates:
            assert (await post_update(h, update)).status_code == 200
        # Every message is stored first, in order.
        assert [m.content for m in incoming(h)] == texts
        await until(
            lambda: all(m.answered_at for m in incoming(h)), what="all answered"
        )
        await until(lambda: delivered(h), what="all delivered")
        turns = h.rasa.texts()
        assert len(turns) < 10, turns  # bursts joined, not 30 turns
        # The bot heard every message once, in order, across its turns.
        assert "\n".join(turns).split("\n") == texts
        sent = api.sent_texts(CHAT)
        assert sent == [f"Echo: {t}" for t in turns]  # one reply a turn
        assert [c for c in api.calls if c.answered == 429] == []
        gaps = [
            b - a for a, b in zip(api.sends[CHAT], api.sends[CHAT][1:], strict=False)
        ]
        assert all(gap >= INTERVAL * 0.9 for gap in gaps), gaps


async def test_bot_messages_queued_for_a_busy_chat_go_as_one_in_order(
    start_gateway: HarnessFactory,
) -> None:
    api = FakeBotApi(chat_burst=1, chat_interval_s=0.4)
    async with telegram_gateway(
        start_gateway, api=api, telegram_chat_interval_s=0.5
    ) as (h, _):
        await post_update(h, api.text_update(CHAT, "one"))
        await api.wait_for("sendMessage", 1)
        cid = conversation_id(h)
        choices = [{"title": "Yes", "payload": "/affirm"}]

        def three(s: Session) -> None:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            for said in ("first", "second"):
                service.send(s, conversation=conversation, sender="bot", text=said)
            service.send(
                s, conversation=conversation, sender="bot", text="third?",
                buttons=choices,
            )

        # Three bot messages at once, while the chat still waits for its slot.
        await h.pipeline.in_db(three)
        await until(lambda: delivered(h), what="all delivered")
        sent = api.called("sendMessage")
        assert [p["text"] for p in sent] == ["Echo: one", "first\n\nsecond\n\nthird?"]
        keyboard = sent[-1]["reply_markup"]["inline_keyboard"]
        assert keyboard[0][0]["text"] == "Yes"  # the last one's buttons
        assert [c for c in api.calls if c.answered == 429] == []
        with h.db() as s:
            rows = s.scalars(
                select(Message).where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.OUTGOING,
                )
            ).all()
            assert all(m.delivered_at is not None for m in rows)
        # An adviser's message is never joined to the bot's.
        await deliver_to_person(cid, text="Hi, Jo here", sender="adviser")
        await deliver_to_person(cid, text="and the bot", sender="bot")
        await until(lambda: delivered(h), what="all delivered")
        assert len(api.sent_texts(CHAT)) == 4
        assert api.sent_texts(CHAT)[-1] == "and the bot"


async def test_updates_arriving_together_are_answered_in_update_id_order(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        first = api.text_update(CHAT, "first", update_id=7001)
        second = api.text_update(CHAT, "second", update_id=7002)
        # Delivered out of order, at the same time.
        await asyncio.gather(post_update(h, second), post_update(h, first))
        await until(lambda: delivered(h) and api.sent_texts(CHAT), what="answer")
        await until(
            lambda: all(m.answered_at for m in incoming(h)), what="all answered"
        )
        assert "\n".join(h.rasa.texts()).split("\n") == ["first", "second"]


async def test_an_update_that_came_alone_never_waits_out_the_reorder_window(
    start_gateway: HarnessFactory,
) -> None:
    # A window far longer than until() waits: only an update received with
    # another one may wait, so one arriving alone is answered at once.
    async with telegram_gateway(
        start_gateway, telegram_reorder_window_s=60.0
    ) as (h, api):
        await post_update(h, api.text_update(CHAT, "alone", update_id=7101))
        await until(lambda: api.sent_texts(CHAT), what="the answer", timeout=5.0)
        assert api.sent_texts(CHAT)[-1] == "Echo: alone"
        # and two arriving together are still answered in update_id order,
        # each waiting only for the other to be stored
        first = api.text_update(CHAT, "first", update_id=7201)
        second = api.text_update(CHAT, "second", update_id=7202)
        await asyncio.gather(post_update(h, second), post_update(h, first))
        await until(
            lambda: all(m.answered_at for m in incoming(h)),
            what="all answered",
            timeout=5.0,
        )
        heard = "\n".join(h.rasa.texts()).split("\n")
        assert heard[heard.index("alone") + 1 :] == ["first", "second"]


async def test_a_429_waits_for_retry_after_through_the_outbox(
    start_gateway: HarnessFactory,
) -> None:
    # No pacing of our own: the fake's flood limit (one a second) answers 429.
    api = FakeBotApi(chat_burst=1, chat_interval_s=1.0)
    async with telegram_gateway(
        start_gateway, api=api, telegram_chat_interval_s=0.0
    ) as (h, _):
        await post_update(h, api.text_update(CHAT, "one"))
        await api.wait_for("sendMessage", 1)
        cid = conversation_id(h)
        await deliver_to_person(cid, text="two", sender="bot")
        await until(lambda: [c for c in api.calls if c.answered == 429], what="a 429")
        refused_at = datetime.now().astimezone()

        def refusal_recorded() -> Outbox | None:
            with session_scope(h.settings.database_url) as s:
                row = s.scalars(
                    select(Outbox).where(Outbox.state == OutboxState.PENDING)
                ).first()
                if row is not None and row.attempts == 1:
                    s.expunge(row)
                    return row
                return None

        # the gateway records the 429 a moment after the fake answered it
        row = await until(refusal_recorded, what="the 429 recorded")
        # Due again after Telegram's retry_after, not retried at once.
        assert (row.next_attempt_at - refused_at).total_seconds() > 0.5
        await api.wait_for("sendMessage", 2, timeout=10)
        assert api.sent_texts(CHAT) == ["Echo: one", "two"]
        assert len([c for c in api.calls if c.method == "sendMessage"]) == 3


# ---------------------------------------------------------------- keyboards


async def test_a_pressed_keyboard_shows_the_choice_and_goes_stale(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "/start"))
        sent = (await api.wait_for("sendMessage", 1))[0]
        data = sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await post_update(h, api.callback_update(CHAT, data))
        await api.wait_for("sendMessage", 2)
        [edit] = await api.wait_for("editMessageText", 1)
        assert edit["text"] == "Hello! What can I help with?\n\n" + text(
            "telegram.chosen", choice="Funding"
        )
        assert not edit.get("reply_markup")  # the buttons are gone
        assert h.rasa.texts()[-1] == "I have a question about funding"
        # The same keyboard pressed again (an old copy): answered, not acted on.
        turns = len(h.rasa.received)
        old = api.callback_update(CHAT, data, message_id=sent_id(api, data))
        old["callback_query"]["message"]["reply_markup"] = sent["reply_markup"]
        await post_update(h, old)
        answers = await api.wait_for("answerCallbackQuery", 2)
        assert answers[-1]["text"] == text("telegram.stale_button")
        await asyncio.sleep(0.3)
        assert len(h.rasa.received) == turns


def sent_id(api: FakeBotApi, data: str) -> int:
    for (_, message_id), message in api.messages.items():
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if any(b.get("callback_data") == data for row in rows for b in row):
            return message_id
    # after the edit the buttons are gone: the first message sent
    return min(message_id for (_, message_id) in api.messages)


async def test_a_long_choice_list_is_paged_not_capped(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "Newport"))
        await api.wait_for("sendMessage", 1)
        choices = [{"title": f"Place {i}", "payload": f"Place {i}"} for i in range(15)]
        await deliver_to_person(
            conversation_id(h),
            text="That could mean more than one area. Which one?",
            buttons=choices,
            sender="bot",
        )
        sent = (await api.wait_for("sendMessage", 2))[-1]
        rows = sent["reply_markup"]["inline_keyboard"]
        assert [r[0]["text"] for r in rows[:-1]] == [
            f"Place {i}" for i in range(PAGE_SIZE)
        ]
        more = rows[-1][0]
        assert more["text"] == f"{text('telegram.more')} (1/3)"
        await post_update(h, api.callback_update(CHAT, more["callback_data"]))
        [edit] = await api.wait_for("editMessageReplyMarkup", 1)
        page = edit["reply_markup"]["inline_keyboard"]
        assert [r[0]["text"] for r in page[:-1]] == [
            f"Place {i}" for i in range(PAGE_SIZE, 2 * PAGE_SIZE)
        ]
        assert len(h.rasa.received) == 1  # turning the page is not a message
        await post_update(h, api.callback_update(CHAT, page[2][0]["callback_data"]))
        await api.wait_for("sendMessage", 3)
        assert h.rasa.texts()[-1] == "Place 8"


# ------------------------------------------------------------------- polish


async def test_typing_is_shown_and_lists_of_links_are_not_previewed(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        h.rasa.delay = 0.2
        await post_update(h, api.text_update(CHAT, "what guidance is there?"))
        await api.wait_for("sendMessage", 1)
        [typing] = api.called("sendChatAction")[:1]
        assert typing["action"] == "typing" and int(typing["chat_id"]) == CHAT
        assert "link_preview_options" not in api.called("sendMessage")[0]
        links = (
            "Guidance:\n- https://www.gov.uk/claim-gift-aid\n"
            "- https://www.gov.uk/guidance/charities-and-tax"
        )
        await deliver_to_person(conversation_id(h), text=links, sender="bot")
        sent = (await api.wait_for("sendMessage", 2))[-1]
        assert sent["link_preview_options"]["is_disabled"] is True


async def test_the_fake_refuses_what_telegram_refuses(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        bot = h.app.state.telegram.application.bot
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.error import BadRequest

        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(chat_id=CHAT, text="x" * (MAX_TEXT + 1))
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(
                chat_id=CHAT,
                text="choose",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("a", callback_data="d" * 65)]]
                ),
            )
        with pytest.raises(BadRequest, match="(?i)too many buttons"):
            await bot.send_message(
                chat_id=CHAT,
                text="choose",
                reply_markup=InlineKeyboardMarkup(
                    [
                        [
                            InlineKeyboardButton(str(i), callback_data=str(i))
                            for i in range(9)
                        ]
                    ]
                ),
            )
        with pytest.raises(BadRequest, match="not found"):
            await bot.edit_message_text(chat_id=CHAT, message_id=999999, text="x")
