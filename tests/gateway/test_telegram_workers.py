"""Telegram with several gateway workers (the scaled profile): two gateways on
one PostgreSQL database and one Redis key prefix, one Bot API fake enforcing a
strict per-chat flood limit, one chat. No 429, every reply once and in order,
updates answered in update_id order whichever worker they reach, duplicates
dropped across workers, and a gateway process killed mid-reply: the next one
sends only the parts not yet delivered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.conversations import service
from bot.db.models import (
    Conversation,
    Message,
    MessageType,
    Outbox,
    OutboxState,
    TelegramMessage,
)
from bot.db.repositories import conversations as repo
from bot.db.session import session_scope
from bot.gateway.app import create_app
from bot.gateway.channels.base import DeliveryError
from bot.gateway.channels.telegram import MAX_TEXT, units
from bot.gateway.pacing import RedisChatPacer
from bot.gateway.turns import ref
from bot.i18n import text
from bot.runner import free_port
from tests.gateway.conftest import IN_HOURS, Harness, make_settings, until
from tests.gateway.test_telegram import SECRET, post_update
from tests.support.fake_bot_api import FakeBotApi
from tests.support.fake_rasa import FakeRasa
from tests.support.servers import serve

pytestmark = [
    pytest.mark.integration,
    # several gateway workers need PostgreSQL (SQLite is refused at start-up)
    pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True),
]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROJECT = Path(__file__).resolve().parents[2]
CHAT = 55501
INTERVAL = 0.2  # the pacing, scaled down from Telegram's one a second


def strict_api() -> FakeBotApi:
    """The fake with no burst allowance: two sends to the chat closer than the
    pacing allows (less the machine's jitter) are a 429."""
    return FakeBotApi(chat_burst=1, chat_interval_s=INTERVAL * 0.75)


def gateway_settings(
    db_url: str, rasa_url: str, api_url: str, api: FakeBotApi, prefix: str, **more: Any
) -> dict[str, Any]:
    return {
        "redis_url": REDIS_URL,
        "redis_key_prefix": prefix,
        "telegram_bot_token": api.token,
        "telegram_webhook_secret": SECRET,
        "telegram_base_url": f"{api_url}/bot",
        "telegram_chat_interval_s": INTERVAL,
        **more,
    }


@asynccontextmanager
async def gateway(
    db_url: str, rasa: FakeRasa, rasa_url: str, **settings: Any
) -> AsyncIterator[Harness]:
    """One gateway worker (an app of its own) on the shared database and Redis."""
    config = make_settings(db_url, rasa_url, **settings)
    assert config.is_scaled
    app = create_app(config)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        harness = Harness(url, app, config, rasa, http)
        harness.set_time(IN_HOURS)
        await until(lambda: app.state.telegram.ready, what="telegram started")
        yield harness


@asynccontextmanager
async def two_gateways(
    db_url: str, prefix: str, api: FakeBotApi, **settings: Any
) -> AsyncIterator[tuple[Harness, Harness]]:
    rasa = FakeRasa(database_url=db_url)
    async with serve(api.app()) as api_url, serve(rasa.app()) as rasa_url:
        common = gateway_settings(db_url, rasa_url, api_url, api, prefix, **settings)
        async with gateway(db_url, rasa, rasa_url, **common) as a:
            async with gateway(db_url, rasa, rasa_url, **common) as b:
                assert isinstance(a.app.state.telegram.pacer, RedisChatPacer)
                yield a, b


def conversation_id(h: Harness) -> str | None:
    with h.db() as s:
        return s.scalar(
            select(Conversation.id).where(Conversation.channel_user_id == str(CHAT))
        )


def incoming(h: Harness) -> list[Message]:
    with h.db() as s:
        rows = list(
            s.scalars(
                select(Message)
                .join(Conversation)
                .where(
                    Conversation.channel_user_id == str(CHAT),
                    Message.message_type == MessageType.INCOMING,
                )
                .order_by(Message.id)
            )
        )
        s.expunge_all()
        return rows


def all_delivered(h: Harness) -> bool:
    with h.db() as s:
        return not s.scalar(
            select(Outbox.id).where(Outbox.state == OutboxState.PENDING).limit(1)
        )


def refused(api: FakeBotApi) -> list[Any]:
    return [c for c in api.calls if c.answered == 429]


async def test_two_workers_sending_to_one_chat_keep_within_its_flood_limit(
    migrated_db_url: str, prefix: str
) -> None:
    api = strict_api()
    async with two_gateways(migrated_db_url, prefix, api) as (a, b):
        await post_update(a, api.text_update(CHAT, "we run a food bank"))
        await until(lambda: api.sent_texts(CHAT), what="the first answer")
        with a.db() as s:
            conv = ref(s.scalars(select(Conversation)).one())
        channels = [a.app.state.telegram, b.app.state.telegram]

        def view(i: int) -> dict[str, Any]:
            return {"id": 0, "text": f"turn {i:02d}", "buttons": [], "sender": "bot"}

        # The workers take turns, then both send at once.
        for i in range(6):
            await channels[i % 2].send(conv, view(i))
        await asyncio.gather(
            *(channels[i % 2].send(conv, view(i)) for i in range(6, 12))
        )
        assert refused(api) == []
        sent = api.sent_texts(CHAT)
        assert sent[:7] == ["Echo: we run a food bank"] + [
            f"turn {i:02d}" for i in range(6)
        ]
        assert sorted(sent[7:]) == [f"turn {i:02d}" for i in range(6, 12)]
        sends = api.sends[CHAT]
        gaps = [y - x for x, y in zip(sends, sends[1:], strict=False)]
        assert all(gap >= INTERVAL * 0.75 for gap in gaps), gaps


async def test_replies_written_on_two_workers_reach_the_chat_once_in_order(
    migrated_db_url: str, prefix: str
) -> None:
    api = strict_api()
    async with two_gateways(migrated_db_url, prefix, api) as (a, b):
        first = api.text_update(CHAT, "we run a food bank")
        assert (await post_update(a, first)).status_code == 200
        await until(lambda: api.sent_texts(CHAT), what="the first answer")
        cid = conversation_id(a)
        assert cid is not None
        # Replies for the chat written on both workers (advisers on two
        # replicas behind the load balancer), each as the last one goes out:
        # whichever worker's outbox takes the next one waits for the chat.
        texts = [f"reply {i:02d}" for i in range(8)]
        for i, reply in enumerate(texts):
            await (a, b)[i % 2].pipeline.send_to_person(cid, text=reply, sender="bot")
            await until(lambda: all_delivered(a), timeout=30, what="delivered")
        assert api.sent_texts(CHAT) == ["Echo: we run a food bank", *texts]
        assert refused(api) == []
        sends = api.sends[CHAT]
        gaps = [y - x for x, y in zip(sends, sends[1:], strict=False)]
        assert all(gap >= INTERVAL * 0.75 for gap in gaps), gaps


async def test_a_429_seen_by_one_worker_holds_the_other_off(
    migrated_db_url: str, prefix: str
) -> None:
    api = FakeBotApi()
    async with two_gateways(migrated_db_url, prefix, api) as (a, b):
        await post_update(a, api.text_update(CHAT, "we run a food bank"))
        await until(lambda: api.sent_texts(CHAT), what="the first answer")
        with a.db() as s:
            conversation = s.scalars(select(Conversation)).one()
            conv = ref(conversation)
        # Telegram says "retry after 1" to a send from worker A ...
        api.answer_429("sendMessage", 1)
        view = {"id": 0, "text": "a reply", "buttons": [], "sender": "bot"}
        with pytest.raises(DeliveryError) as refusal:
            await a.app.state.telegram.send(conv, view)
        assert refusal.value.retry_after == 1
        # ... and worker B's next send to the chat waits for it.
        loop = asyncio.get_running_loop()
        started = loop.time()
        await b.app.state.telegram.send(conv, view)
        assert loop.time() - started >= 0.8
        assert api.sent_texts(CHAT) == ["Echo: we run a food bank", "a reply"]


async def test_updates_reaching_two_workers_are_answered_in_update_id_order(
    migrated_db_url: str, prefix: str
) -> None:
    api = FakeBotApi()
    async with two_gateways(migrated_db_url, prefix, api) as (a, b):
        a.rasa.delay = 0.3  # the first update's turn is slow
        # Telegram delivers two updates over two connections: the later one, a
        # command answered without the bot, reaches worker B first, the earlier
        # one worker A a moment later. B waits for A's answer before its own.
        await post_update(b, api.text_update(CHAT, "/help", update_id=8002))
        await post_update(a, api.text_update(CHAT, "first", update_id=8001))
        await until(lambda: len(api.sent_texts(CHAT)) >= 2, what="both answers")
        assert api.sent_texts(CHAT) == ["Echo: first", text("telegram.help")]
        a.rasa.delay = 0.0
        # Two texts arriving together, the later one on A: one turn, in order.
        first = api.text_update(CHAT, "third", update_id=8003)
        second = api.text_update(CHAT, "fourth", update_id=8004)
        await asyncio.gather(post_update(a, second), post_update(b, first))
        await until(
            lambda: all(m.answered_at for m in incoming(a)), what="all answered"
        )
        await until(lambda: all_delivered(a), what="all delivered")
        heard = "\n".join(a.rasa.texts()).split("\n")
        assert heard == ["first", "third", "fourth"]
        with a.db() as s:
            handled = s.scalars(select(TelegramMessage.handled_at)).all()
            assert len(handled) == 4 and all(handled)


async def test_one_update_delivered_to_both_workers_is_stored_and_answered_once(
    migrated_db_url: str, prefix: str
) -> None:
    api = FakeBotApi()
    async with two_gateways(migrated_db_url, prefix, api) as (a, b):
        update = api.text_update(CHAT, "is our village hall a charity?")
        answers = await asyncio.gather(
            post_update(a, update), post_update(b, update), post_update(a, update)
        )
        assert [r.status_code for r in answers] == [200, 200, 200]
        await until(lambda: api.sent_texts(CHAT), what="the answer")
        await until(
            lambda: all(m.answered_at for m in incoming(a)), what="answered"
        )
        await until(lambda: all_delivered(a), what="delivered")
        assert [m.content for m in incoming(a)] == ["is our village hall a charity?"]
        assert a.rasa.texts() == ["is our village hall a charity?"]
        assert api.sent_texts(CHAT) == ["Echo: is our village hall a charity?"]


# ------------------------------------------------- a worker killed mid-reply


def gateway_process(
    settings: dict[str, Any], db_url: str, rasa_url: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """A gateway in a process of its own (its own process group, to kill)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENVIRONMENT": "development",
        "DATABASE_URL": db_url,
        "RASA_URL": rasa_url,
        "RASA_TOKEN": "test-rasa-token",
        "SESSION_SECRET": "test-session-secret",
        "ADVISER_HOURS": "Mon-Sun 00:00-23:59",
        "TELEGRAM_PRIVACY_NOTICE": "false",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        **{k.upper(): str(v) for k, v in settings.items()},
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--factory",
                "bot.gateway.app:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            ],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def parts_sent(db_url: str) -> int:
    with session_scope(db_url) as s:
        return int(
            s.scalar(select(Outbox.parts_sent).where(Outbox.channel == "telegram")
                     .order_by(Outbox.id.desc()).limit(1))
            or 0
        )


async def test_a_worker_killed_mid_reply_leaves_the_rest_to_the_next_one(
    migrated_db_url: str, prefix: str, tmp_path: Path
) -> None:
    api = strict_api()
    rasa = FakeRasa(database_url=migrated_db_url)
    async with serve(api.app()) as api_url, serve(rasa.app()) as rasa_url:
        common = gateway_settings(
            migrated_db_url, rasa_url, api_url, api, prefix,
            # a row taken by a worker that died is due again this soon
            outbox_send_lease_s=1.0,
        )
        port = free_port()
        proc = gateway_process(
            common, migrated_db_url, rasa_url, port, tmp_path / "gateway-a.log"
        )
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=20) as http:

                async def up() -> bool:
                    try:
                        return (await http.get("/healthz")).status_code < 500
                    except httpx.HTTPError:
                        return False

                await until(up, timeout=60, what="gateway A up")
                await until(lambda: api.webhook, timeout=30, what="webhook set")
                await http.post(
                    "/telegram/webhook",
                    json=api.text_update(CHAT, "we run a food bank"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                await until(lambda: api.sent_texts(CHAT), what="the first answer")
            # A long reply, written as the console on another replica writes it.
            paragraphs = [
                f"Paragraph {i}: " + "Here is what the guidance says about it. " * 24
                for i in range(1, 11)
            ]
            reply = "\n\n".join(p.strip() for p in paragraphs)
            api.hold_after = 2  # the first answer and part 1; part 2 stays in flight
            with session_scope(migrated_db_url) as s:
                conversation = repo.latest_conversation_for(
                    s, channel="telegram", channel_user_id=str(CHAT)
                )
                assert conversation is not None
                service.send(s, conversation=conversation, sender="bot", text=reply)
            await until(lambda: api.held, timeout=20, what="part 2 in flight")
            assert parts_sent(migrated_db_url) == 1
            os.killpg(proc.pid, signal.SIGKILL)  # the group we started
            proc.wait(10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        api.release_held()  # part 2 never reached Telegram
        # Another worker takes the reply over once the dead one's lease ends.
        async with gateway(migrated_db_url, rasa, rasa_url, **common) as b:
            await until(lambda: all_delivered(b), timeout=30, what="delivered")
        sent = api.sent_texts(CHAT)
        assert len(sent) == 4, sent  # the first answer, then parts 1, 2, 3 once
        assert sent[0] == "Echo: we run a food bank"
        assert all(units(p) <= MAX_TEXT for p in sent[1:])
        assert "\n\n".join(sent[1:]) == reply  # whole, in order, nothing twice
        assert parts_sent(migrated_db_url) == 3
        assert refused(api) == []
