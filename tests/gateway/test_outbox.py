"""The outbox against the Bot API fake on loopback: order per conversation,
retries with backoff, 429 retry_after, outages, and what the console shows."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from sqlalchemy import select

from bot.conversations import service
from bot.db.models import Conversation, Message, MessageType, Outbox, OutboxState
from bot.db.repositories import console as console_repo
from bot.db.session import session_scope
from bot.gateway.delivery import OutboxPolicy
from tests.gateway.conftest import Harness, HarnessFactory, until
from tests.gateway.test_telegram import (
    CHAT,
    post_answered,
    post_update,
    telegram_gateway,
)
from tests.support.fake_bot_api import FakeBotApi
from tests.support.fake_rasa import HANDED_OVER

pytestmark = pytest.mark.integration

# The scenario is 60 s; the logic does not depend on the length, so the
# suite uses a few seconds (set FRONTDOOR_TEST_BOT_API_OUTAGE_S=60 to run it).
OUTAGE_S = float(os.environ.get("FRONTDOOR_TEST_BOT_API_OUTAGE_S", "3"))
FAST = OutboxPolicy(base_delay_s=0.2, max_delay_s=1.0, fail_after=1000, poll_s=0.2)


def _fast(h: Harness, policy: OutboxPolicy = FAST) -> None:
    assert h.pipeline.delivery is not None, "the delivery worker runs in the app"
    h.pipeline.delivery.policy = policy


def _rows(h: Harness) -> list[tuple[str, str, OutboxState, int]]:
    """Return (sender, text, outbox state, attempts) of every outgoing message."""
    with h.db() as s:
        return [
            (m.sender, m.content, o.state, o.attempts)
            for m, o in s.execute(
                select(Message, Outbox)
                .join(Outbox, Outbox.message_id == Message.id)
                .order_by(Message.id)
            ).tuples()
        ]


def _cid(h: Harness) -> str | None:
    with h.db() as s:
        return s.scalar(
            select(Conversation.id).where(Conversation.channel == "telegram")
        )


def _console_states(h: Harness, cid: str) -> list[str | None]:
    with h.db() as s:
        return [
            line.delivery
            for line in console_repo.list_transcript(s, conversation_id=cid)
            if line.kind is MessageType.OUTGOING
        ]


def _refused(api: FakeBotApi, status: int) -> list[str]:
    return [
        c.params["text"]
        for c in api.calls
        if c.method == "sendMessage" and c.answered == status
    ]


async def test_bot_api_down_then_up_every_reply_arrives_once_in_order(
    start_gateway: HarnessFactory,
) -> None:
    # no pacing: one message per reply, never joined (joining queued replies
    # is tested in test_telegram_delivery)
    async with telegram_gateway(start_gateway, telegram_chat_interval_s=0.0) as (
        h,
        api,
    ):
        _fast(h)
        api.down = True
        for text in ("hello", "do you fund minibuses?", "I'd like a person"):
            await post_answered(h, api.text_update(CHAT, text))
        cid = await until(lambda: _cid(h), what="the conversation")
        await until(
            lambda: len(_rows(h)) == 3, what="three bot replies stored meanwhile"
        )
        await h.pipeline.send_to_person(cid, text="Hi, Jo here from the CVS.")
        expected = [
            "Hello! What can I help with?",
            "Echo: do you fund minibuses?",
            HANDED_OVER,
            "Hi, Jo here from the CVS.",
        ]
        # The outage: all this while nothing is delivered, and the console
        # says so for every reply; only the oldest is tried (the rest wait).
        outage_ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_ends:
            rows = _rows(h)
            assert [r[1] for r in rows] == expected
            assert {r[2] for r in rows} == {OutboxState.PENDING}
            assert set(_console_states(h, cid)) == {"pending"}
            await asyncio.sleep(0.1)  # the polling interval of this check
        assert api.sent_texts(CHAT) == []
        tried = _refused(api, 502)
        assert tried and set(tried) == {expected[0]}
        # backoff, no storm: 0.2, 0.4, 0.8, then once a second at most
        assert len(tried) <= OUTAGE_S / FAST.max_delay_s + 4
        api.down = False
        await until(
            lambda: {r[2] for r in _rows(h)} == {OutboxState.DELIVERED},
            timeout=OUTAGE_S + 15,
            what="every reply delivered after the outage",
        )
        # once each, in order (the adviser's reply labelled as theirs)
        assert api.sent_texts(CHAT) == [*expected[:3], f"Adviser: {expected[3]}"]
        assert set(_console_states(h, cid)) == {"delivered"}
        with h.db() as s:
            assert all(
                m.delivered_at is not None
                for m in s.scalars(
                    select(Message).where(Message.message_type == MessageType.OUTGOING)
                )
            )


async def test_429_past_the_rate_limiter_waits_retry_after_and_keeps_order(
    start_gateway: HarnessFactory,
) -> None:
    # no pacing: one message per reply, never joined (joining queued replies
    # is tested in test_telegram_delivery)
    async with telegram_gateway(start_gateway, telegram_chat_interval_s=0.0) as (
        h,
        api,
    ):
        _fast(h)
        # Each refusal reaches the worker (PTB's limiter does not retry), which
        # waits Telegram's retry_after (1 s) before trying again.
        api.answer_429("sendMessage", 5)
        texts = ["one", "two", "three"]
        for text in texts:
            await post_answered(h, api.text_update(CHAT, text))
        await until(
            lambda: {r[2] for r in _rows(h)} == {OutboxState.DELIVERED}
            and len(_rows(h)) == 3,
            timeout=30,
            what="all three delivered",
        )
        assert api.sent_texts(CHAT) == [f"Echo: {t}" for t in texts]
        assert len(_refused(api, 429)) == 5
        assert _rows(h)[0][3] >= 1  # the first one needed a second attempt
        assert {t for t in _refused(api, 429)} == {"Echo: one"}


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    policy = OutboxPolicy(base_delay_s=1.0, max_delay_s=60.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 7, 8)] == [1, 2, 4, 8, 60, 60]
    assert policy.delay(1, retry_after=30) == 30
    assert policy.delay(4, retry_after=2) == 8


async def test_a_refused_reply_fails_holds_nothing_up_and_can_be_retried(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        _fast(h)
        api.blocked.add(CHAT)
        await post_update(h, api.text_update(CHAT, "first"))
        cid = await until(lambda: _cid(h), what="the conversation")
        await until(
            lambda: [r[2] for r in _rows(h)] == [OutboxState.FAILED],
            what="a 403 fails at once",
        )
        assert _console_states(h, cid) == ["failed"]
        with h.db() as s:
            line = [
                ln
                for ln in console_repo.list_transcript(s, conversation_id=cid)
                if ln.kind is MessageType.OUTGOING
            ][0]
            assert "blocked" in (line.delivery_error or "")
        api.blocked.clear()
        await post_update(h, api.text_update(CHAT, "second"))
        await api.wait_for("sendMessage", 1)
        assert api.sent_texts(CHAT) == ["Echo: second"]  # not held up
        with session_scope(h.settings.database_url) as s:
            assert service.retry_delivery(s, conversation_id=cid, message_id=line.id)
        await api.wait_for("sendMessage", 2)
        assert api.sent_texts(CHAT) == ["Echo: second", "Echo: first"]
        await until(
            lambda: _console_states(h, cid) == ["delivered", "delivered"],
            what="both shown delivered",
        )


async def test_rows_left_by_a_stopped_gateway_go_out_at_the_next_start(
    start_gateway: HarnessFactory,
) -> None:
    """A crash between "stored" and "sent" loses nothing: the outbox row waits."""
    async with telegram_gateway(start_gateway) as (h, api):
        api.down = True
        await post_update(h, api.text_update(CHAT, "are you there?"))
        await until(lambda: len(_rows(h)) == 1, what="the reply stored")
        assert api.sent_texts(CHAT) == []
    # a second gateway on the same database (the first one is gone)
    async with telegram_gateway(start_gateway) as (h2, api2):
        await api2.wait_for("sendMessage", 1, timeout=15)
        assert api2.sent_texts(CHAT) == ["Echo: are you there?"]
        # marked delivered once the Bot API has answered (just after it got it)
        await until(
            lambda: [r[2] for r in _rows(h2)] == [OutboxState.DELIVERED],
            what="the row marked delivered",
        )


async def test_replies_wait_for_a_telegram_that_is_still_starting(
    start_gateway: HarnessFactory,
) -> None:
    """The Bot API is down at start-up (Telegram starts in the background): the
    reply waits, using up no attempts, and goes out once Telegram is started."""
    from tests.gateway.test_telegram import SECRET
    from tests.support.servers import serve

    api = FakeBotApi()
    api.down = True
    async with serve(api.app()) as api_url:
        async with start_gateway(
            telegram_bot_token=api.token,
            telegram_webhook_secret=SECRET,
            telegram_base_url=f"{api_url}/bot",
        ) as h:
            _fast(h)
            assert not h.app.state.telegram.ready
            response = await post_update(h, api.text_update(CHAT, "early bird"))
            assert response.status_code == 200  # stored, though Telegram is down
            await until(lambda: len(_rows(h)) == 1, what="the reply stored")
            assert api.called("sendMessage", ok_only=False) == []  # not tried
            assert _rows(h)[0][3] == 0
            api.down = False
            await api.wait_for("sendMessage", 1, timeout=60)
            assert api.sent_texts(CHAT) == ["Echo: early bird"]
            await until(
                lambda: _rows(h)[0][2] is OutboxState.DELIVERED, what="delivered"
            )
            assert _rows(h)[0][3] == 0  # delivered at the first real attempt
