"""Every update kind a private chat sends, through the webhook against the Bot API
fake: stored (files as Telegram file ids), shown to advisers, answered where the
bot can; group chats told once and left; update ids that restart."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

from bot.console import auth
from bot.db.models import (
    Adviser,
    AdviserMembership,
    AdviserRole,
    Conversation,
    LocalAuthority,
    Message,
    MessageType,
    Nation,
    Place,
    TelegramMessage,
)
from bot.i18n import text
from bot.settings import get_settings
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import (
    CHAT,
    post_update,
    stored,
    telegram_gateway,
)
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.integration

TEXT_ONLY = text("telegram.text_only")
PHOTO = [
    {
        "file_id": "AgAD-small",
        "file_unique_id": "s1",
        "width": 90,
        "height": 90,
        "file_size": 1800,
    },
    {
        "file_id": "AgAD-large",
        "file_unique_id": "l1",
        "width": 1280,
        "height": 960,
        "file_size": 122_880,
    },
]


def incoming(h: Harness, chat: int) -> list[Message]:
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


def meta(h: Harness, message_id: int) -> TelegramMessage:
    with h.db() as s:
        row = s.get(TelegramMessage, message_id)
        assert row is not None
        s.expunge(row)
        return row


async def sent_to(api: FakeBotApi, chat: int, count: int) -> list[str]:
    await until(lambda: len(api.sent_texts(chat)) >= count, what=f"{count} to {chat}")
    return api.sent_texts(chat)


def seed_places(h: Harness) -> None:
    with h.db() as s:
        s.add(
            LocalAuthority(
                code="E06000052",
                name="Cornwall",
                la_type="Unitary authority",
                nation=Nation.ENGLAND,
            )
        )
        s.add(
            LocalAuthority(
                code="E08000035",
                name="Leeds",
                la_type="Metropolitan district",
                nation=Nation.ENGLAND,
            )
        )
        s.flush()
        s.add_all(
            [
                Place(
                    name="Truro",
                    place_type="City",
                    lad_code="E06000052",
                    latitude=50.2632,
                    longitude=-5.0510,
                ),
                Place(
                    name="Redruth",
                    place_type="Town",
                    lad_code="E06000052",
                    latitude=50.2330,
                    longitude=-5.2260,
                ),
                Place(
                    name="Leeds",
                    place_type="City",
                    lad_code="E08000035",
                    latitude=53.7965,
                    longitude=-1.5478,
                ),
            ]
        )
        s.commit()


async def test_every_kind_of_message_is_stored_shown_and_answered(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        seed_places(h)
        chats = iter(range(CHAT + 100, CHAT + 200))

        # A photo with a question in its caption: the caption is the message.
        photo_chat = next(chats)
        await post_update(
            h,
            api.message_update(
                photo_chat, photo=PHOTO, caption="Is this grant letter genuine?"
            ),
        )
        assert await sent_to(api, photo_chat, 1) == [
            "Echo: Is this grant letter genuine?"
        ]
        [photo] = incoming(h, photo_chat)
        assert photo.content == "[photo: 120 KB] Is this grant letter genuine?"
        row = meta(h, photo.id)
        assert (row.kind, row.file_id, row.file_size) == (
            "photo",
            "AgAD-large",
            122_880,
        )

        # A document with a caption, and one without.
        doc = {
            "file_id": "BQAD-doc",
            "file_unique_id": "d1",
            "file_name": "constitution.pdf",
            "mime_type": "application/pdf",
            "file_size": 2_400_000,
        }
        doc_chat = next(chats)
        await post_update(h, api.message_update(doc_chat, document=doc))
        assert await sent_to(api, doc_chat, 1) == [TEXT_ONLY]
        [document] = incoming(h, doc_chat)
        assert document.content == "[document: constitution.pdf, 2.3 MB]"
        row = meta(h, document.id)
        assert (row.kind, row.file_id, row.file_name, row.mime_type) == (
            "document",
            "BQAD-doc",
            "constitution.pdf",
            "application/pdf",
        )
        await post_update(
            h,
            api.message_update(
                doc_chat, document=doc, caption="Is our constitution ok?"
            ),
        )
        assert (await sent_to(api, doc_chat, 2))[-1] == "Echo: Is our constitution ok?"

        # Voice, audio, video, sticker, contact: stored, "please type".
        kinds: dict[str, tuple[dict[str, Any], str, str]] = {
            "voice": (
                {
                    "voice": {
                        "file_id": "AwAD-v",
                        "file_unique_id": "v1",
                        "duration": 12,
                        "mime_type": "audio/ogg",
                        "file_size": 20480,
                    }
                },
                "[voice message: 0:12, 20 KB]",
                "voice message",
            ),
            "audio": (
                {
                    "audio": {
                        "file_id": "CQAD-a",
                        "file_unique_id": "a1",
                        "duration": 190,
                        "title": "Meeting notes",
                        "file_size": 3_000_000,
                    }
                },
                "[audio: Meeting notes, 3:10, 2.9 MB]",
                "audio",
            ),
            "video": (
                {
                    "video": {
                        "file_id": "BAAD-vid",
                        "file_unique_id": "vi1",
                        "width": 640,
                        "height": 480,
                        "duration": 30,
                        "file_size": 5_000_000,
                    }
                },
                "[video: 0:30, 4.8 MB]",
                "video",
            ),
            "sticker": (
                {
                    "sticker": {
                        "file_id": "CAAD-st",
                        "file_unique_id": "st1",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                        "type": "regular",
                        "emoji": "👍",
                    }
                },
                "[sticker: 👍]",
                "sticker",
            ),
            "dice": (
                {"dice": {"emoji": "🎲", "value": 3}},
                "[a message without text]",
                "other",
            ),
            "contact": (
                {
                    "contact": {
                        "phone_number": "+441234567890",
                        "first_name": "Jo",
                        "last_name": "Bloggs",
                    }
                },
                "[contact: Jo Bloggs, +441234567890]",
                "contact",
            ),
        }
        for fields, shown, kind in kinds.values():
            chat = next(chats)
            await post_update(h, api.message_update(chat, **fields))
            assert await sent_to(api, chat, 1) == [TEXT_ONLY]
            [message] = incoming(h, chat)
            assert message.content == shown
            assert message.answered_at is not None  # never left for the sweeper
            assert meta(h, message.id).kind == kind

        # A shared location: the nearest place's council, as if typed.
        loc_chat = next(chats)
        await post_update(
            h,
            api.message_update(
                loc_chat, location={"latitude": 50.2601, "longitude": -5.0420}
            ),
        )
        assert await sent_to(api, loc_chat, 1) == ["Echo: Truro, Cornwall"]
        [location] = incoming(h, loc_chat)
        assert location.content == (
            "[location: 50.26010, -5.04200, near Truro (Cornwall)]"
        )
        assert meta(h, location.id).details["council"] == "Cornwall"
        # Far out at sea: no council, asked to type.
        sea_chat = next(chats)
        await post_update(
            h,
            api.message_update(
                sea_chat, location={"latitude": 45.0, "longitude": -20.0}
            ),
        )
        assert await sent_to(api, sea_chat, 1) == [text("telegram.location_unknown")]

        # An edited message: shown as edited, not answered a second time.
        edit_chat = next(chats)
        original = api.text_update(edit_chat, "Do we need a licence for a raffle?")
        await post_update(h, original)
        assert await sent_to(api, edit_chat, 1) == [
            "Echo: Do we need a licence for a raffle?"
        ]
        asked = len(h.rasa.received)
        edited = api.message_update(
            edit_chat,
            edited=True,
            message_id=original["message"]["message_id"],
            text="Do we need a licence for a raffle at a fete?",
        )
        assert (await post_update(h, edited)).status_code == 200
        await until(lambda: len(incoming(h, edit_chat)) == 2, what="edit stored")
        edit = incoming(h, edit_chat)[-1]
        assert edit.content == "[edited] Do we need a licence for a raffle at a fete?"
        assert meta(h, edit.id).edited is True
        await asyncio.sleep(0.3)
        assert len(h.rasa.received) == asked
        assert api.sent_texts(edit_chat) == ["Echo: Do we need a licence for a raffle?"]

        # Nothing was downloaded: no getFile call.
        assert api.called("getFile", ok_only=False) == []


async def test_voice_while_with_an_adviser_is_stored_and_the_bot_stays_silent(
    start_gateway: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "I'd like to talk to a person"))
        await sent_to(api, CHAT, 1)
        voice = {"file_id": "AwAD-v", "file_unique_id": "v1", "duration": 7}
        await post_update(h, api.message_update(CHAT, voice=voice))
        # A photo of the letter the person is asking about, with a question.
        await post_update(
            h,
            api.message_update(CHAT, photo=PHOTO, caption="This is the letter we got"),
        )
        await until(lambda: len(incoming(h, CHAT)) == 3, what="all stored")
        await asyncio.sleep(0.3)
        assert len(api.sent_texts(CHAT)) == 1  # the hand-over only
        # The adviser sees both in the conversation.
        cid = incoming(h, CHAT)[0].conversation_id
        page = await console_page(h, monkeypatch, cid)
        assert "[voice message: 0:07]" in page
        assert "[photo: 120 KB] This is the letter we got" in page


async def console_page(
    h: Harness, monkeypatch: pytest.MonkeyPatch, conversation_id: str | None
) -> str:
    """Sign an adviser in to the gateway's console; return the conversation's
    page (the queue with ``conversation_id`` None)."""
    monkeypatch.setenv("DATABASE_URL", h.settings.database_url)
    monkeypatch.setenv("PUBLIC_URL", h.url)
    get_settings.cache_clear()
    with h.db() as s:
        adviser = Adviser(
            username="jo",
            display_name="Jo Adviser",
            password_hash=auth.hash_password("a-long-test-password"),
        )
        s.add(adviser)
        s.flush()
        # every area (no organisation): the Telegram conversations are in scope
        s.add(AdviserMembership(adviser_id=adviser.id, role=AdviserRole.NATIONAL))
        s.commit()
    try:
        async with httpx.AsyncClient(base_url=h.url, timeout=20) as client:
            login = await client.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token is not None
            signed = await client.post(
                "/console/login",
                data={
                    "username": "jo",
                    "password": "a-long-test-password",
                    "csrf_token": token.group(1),
                },
                headers={"Origin": h.url},
            )
            assert signed.status_code == 303, signed.text
            path = "/console/"
            if conversation_id is not None:
                path = f"/console/conversations/{conversation_id}"
            page = await client.get(path)
            assert page.status_code == 200
            return page.text
    finally:
        get_settings.cache_clear()


async def test_group_chats_and_channels_are_told_once_and_left(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        group = -100123456
        for words in ("hello everyone", "anyone there?"):
            update_ = api.message_update(group, chat_type="supergroup", text=words)
            assert (await post_update(h, update_)).status_code == 200
        channel = -100999
        await post_update(
            h, api.message_update(channel, chat_type="channel", text="News")
        )
        await until(lambda: len(api.left) == 2, what="left both")
        assert sorted(api.left) == sorted([group, channel])
        assert api.sent_texts(group) == [text("telegram.private_only")]
        assert stored(h) == []
        assert h.rasa.received == []


async def test_update_ids_that_restart_are_not_taken_for_duplicates(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        first = api.text_update(CHAT, "first question", update_id=5000)
        await post_update(h, first)
        await sent_to(api, CHAT, 1)
        # The same update again is a redelivery: dropped.
        await post_update(h, first)
        # Telegram restarted its update ids: a new message carries 5000 again.
        again = api.text_update(CHAT, "a new question", update_id=5000)
        await post_update(h, again)
        await sent_to(api, CHAT, 2)
        rows = incoming(h, CHAT)
        assert [m.content for m in rows] == ["first question", "a new question"]
        assert rows[0].source_id == "update:5000"
        assert rows[1].source_id.startswith("update:5000:")
        # ... and its redelivery is still a duplicate.
        await post_update(h, again)
        # An update id stored before Telegram's facts were kept, and longer ago
        # than Telegram keeps an update, is not a redelivery either.
        with h.db() as s:
            s.execute(
                update(Message)
                .where(Message.id == rows[0].id)
                .values(created_at=rows[0].created_at - timedelta(days=9))
            )
            s.execute(
                delete(TelegramMessage).where(TelegramMessage.message_id == rows[0].id)
            )
            s.commit()
        third = api.text_update(CHAT, "a third question", update_id=5000)
        await post_update(h, third)
        await sent_to(api, CHAT, 3)
        await asyncio.sleep(0.3)
        assert [m.content for m in incoming(h, CHAT)] == [
            "first question",
            "a new question",
            "a third question",
        ]
        assert len(h.rasa.received) == 3


async def test_a_long_incoming_message_is_stored_whole(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        long = ("We run a community garden. " * 160) + "Can we claim Gift Aid?"
        assert len(long) > 4096
        await post_update(h, api.text_update(CHAT, long))
        await sent_to(api, CHAT, 2)  # its echo is over 4,096: two parts
        [message] = incoming(h, CHAT)
        assert message.content == long
        assert message.content.endswith("Can we claim Gift Aid?")
        assert h.rasa.texts() == [long]
        # The echo of it is longer than Telegram allows: it arrives in parts.
        assert "".join(api.sent_texts(CHAT)).replace(" ", "") == (
            f"Echo: {long}".replace(" ", "")
        )
