"""Inbound: every message stored before it is acknowledged, marked answered when
its turn ends, and a stored-but-unanswered one finished by a retry of the same
message or by the sweeper, never dropped as a duplicate.

Faults are injected at the database driver (a statement that fails once), never
by replacing our own code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.db.models import Conversation, Handoff, Message, MessageType
from bot.db.session import get_engine
from bot.gateway.delivery import OutboxPolicy
from bot.gateway.turns import BOT_UNAVAILABLE_TEXT
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve

pytestmark = pytest.mark.integration

# store_reply's first statement: the turn fails after Rasa answered
RECORD_NLU = "UPDATE messages SET intent"
INSERT_MESSAGE = "INSERT INTO messages"


class InjectedFault(Exception):
    """A database statement that failed on purpose."""


@contextmanager
def failing_once(url: str, prefix: str) -> Iterator[list[str]]:
    """Make the next statement starting with ``prefix`` fail once."""
    engine = get_engine(url)
    failed: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not failed and statement.lstrip().startswith(prefix):
            failed.append(statement)
            raise InjectedFault(prefix)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _incoming(h: Harness) -> list[Message]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message)
                .where(Message.message_type == MessageType.INCOMING)
                .order_by(Message.id)
            )
        )


def _said(h: Harness, cid: str) -> list[str]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message.content)
                .where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.OUTGOING,
                )
                .order_by(Message.id)
            )
        )


async def test_widget_retry_after_a_failed_turn_answers_it_once(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    with failing_once(gw.settings.database_url, RECORD_NLU) as failed:
        first = await gw.send(conv, "Can we claim Gift Aid?", client_id="msg-00000001")
    assert failed and first.status_code == 503
    assert "send it again" in first.json()["error"]
    [stored] = _incoming(gw)  # stored, not lost ...
    assert stored.answered_at is None  # ... and not answered
    assert _said(gw, cid) == []
    again = await gw.send(conv, "Can we claim Gift Aid?", client_id="msg-00000001")
    body = again.json()
    assert again.status_code == 200 and body["duplicate"] is False
    assert [r["text"] for r in body["replies"]] == ["Echo: Can we claim Gift Aid?"]
    [stored] = _incoming(gw)  # still once
    assert stored.answered_at is not None
    third = await gw.send(conv, "Can we claim Gift Aid?", client_id="msg-00000001")
    assert third.json()["duplicate"] is True  # now answered: a real duplicate
    assert _said(gw, cid) == ["Echo: Can we claim Gift Aid?"]


async def test_every_finished_turn_marks_its_message_answered(gw: Harness) -> None:
    conv = await gw.start()
    await gw.send(conv, "hello")
    await gw.send(conv, "I'd like to talk to a person")  # handed over
    await gw.send(conv, "thanks, I'll wait")  # passed to the advisers
    assert [m.answered_at is not None for m in _incoming(gw)] == [True] * 3


async def test_sweeper_answers_what_a_failed_turn_left(gw: Harness) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    with failing_once(gw.settings.database_url, RECORD_NLU):
        assert (await gw.send(conv, "hello")).status_code == 503
    worker = gw.pipeline.delivery
    assert worker is not None
    worker.policy = OutboxPolicy(sweep_after_s=3600)
    assert await worker.sweep() == 0  # too recent: its turn may be running
    worker.policy = OutboxPolicy(sweep_after_s=0)
    assert await worker.sweep() == 1
    assert _said(gw, cid) == ["Hello! What can I help with?"]
    assert all(m.answered_at is not None for m in _incoming(gw))
    assert await worker.sweep() == 0


async def test_sweeper_hands_over_when_the_bot_is_still_down(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway() as h:
        conv = await h.start()
        cid = conv["conversation_id"]
        with failing_once(h.settings.database_url, RECORD_NLU):
            assert (await h.send(conv, "hello")).status_code == 503
        h.rasa.status_code = 500  # Rasa is down when the sweeper comes
        worker = h.pipeline.delivery
        assert worker is not None
        worker.policy = OutboxPolicy(sweep_after_s=0)
        assert await worker.sweep() == 1
        assert _said(h, cid) == [BOT_UNAVAILABLE_TEXT]
        with h.db() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None and conversation.status.value == "queued"
            reasons = s.scalars(select(Handoff.reason)).all()
            assert list(reasons) == ["bot_unavailable"]


async def test_telegram_acknowledges_only_what_it_stored(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        update = api.text_update(CHAT, "Do we need a DBS check?")
        with failing_once(h.settings.database_url, INSERT_MESSAGE) as failed:
            refused = await post_update(h, update)
        assert failed and refused.status_code == 503  # Telegram will redeliver
        assert _incoming(h) == []
        ok = await post_update(h, update)  # the redelivery
        assert ok.status_code == 200
        # stored by the time Telegram has its 200, before any answer
        [stored] = _incoming(h)
        assert stored.source_id == f"update:{update['update_id']}"
        await api.wait_for("sendMessage", 1)
        assert api.sent_texts(CHAT) == ["Echo: Do we need a DBS check?"]


async def test_telegram_redelivery_of_an_unanswered_update_is_answered(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        update = api.text_update(CHAT, "hello")
        with failing_once(h.settings.database_url, RECORD_NLU) as failed:
            assert (await post_update(h, update)).status_code == 200
            await until(lambda: failed, what="the turn after the ack to fail")
        await until(lambda: len(h.rasa.received) == 1, what="the first turn")
        [stored] = _incoming(h)
        assert stored.answered_at is None
        assert (await post_update(h, update)).status_code == 200
        await api.wait_for("sendMessage", 1)
        assert api.sent_texts(CHAT) == ["Hello! What can I help with?"]
        [stored] = _incoming(h)
        assert stored.answered_at is not None
        assert len(h.rasa.received) == 2  # asked again, answered once


async def test_polling_acknowledges_an_update_only_once_it_is_stored(
    start_gateway: HarnessFactory, migrated_db_url: str
) -> None:
    api = FakeBotApi()
    update = api.text_update(CHAT, "polled question")
    api.pending_updates.append(update)
    async with serve(api.app()) as api_url:
        with failing_once(migrated_db_url, INSERT_MESSAGE) as failed:
            async with start_gateway(
                telegram_bot_token=api.token,
                telegram_base_url=f"{api_url}/bot",
                telegram_mode="polling",
            ) as h:
                await api.wait_for("sendMessage", 1, timeout=20)
                assert failed  # the first attempt to store it failed ...
                assert api.sent_texts(CHAT) == ["Echo: polled question"]
                # ... so it was fetched again, stored once and answered once
                assert [m.content for m in _incoming(h)] == ["polled question"]
                offsets = [int(p.get("offset") or 0) for p in api.called("getUpdates")]
                assert offsets[0] == 0 and update["update_id"] + 1 in offsets
                assert offsets.index(update["update_id"] + 1) > 1  # not at once
