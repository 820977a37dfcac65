"""Per-chat pacing shared by two workers through the real Redis (127.0.0.1:6379,
a key prefix of its own), against the Bot API fake's flood limit."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

from bot.gateway.pacing import ChatPacer, RedisChatPacer, SlotTooFar, chat_pacer
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve

pytestmark = pytest.mark.integration
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHAT = 4242
INTERVAL = 0.25  # the pacing, scaled down from Telegram's one a second


async def two_workers_send(
    one: ChatPacer | RedisChatPacer, two: ChatPacer | RedisChatPacer, n: int
) -> FakeBotApi:
    """Each worker sends ``n`` messages to one chat as fast as its pacer lets it."""
    # one message per interval, no burst allowance: any faster send is a 429
    api = FakeBotApi(chat_burst=1, chat_interval_s=INTERVAL * 0.8)
    async with serve(api.app()) as url, httpx.AsyncClient(base_url=url) as http:

        async def worker(pacer: ChatPacer | RedisChatPacer, name: str) -> None:
            for i in range(n):
                await pacer.take(str(CHAT))
                await http.post(
                    f"/bot{api.token}/sendMessage",
                    json={"chat_id": CHAT, "text": f"{name} {i}"},
                )

        await asyncio.gather(worker(one, "a"), worker(two, "b"))
    return api


async def test_two_workers_pacing_through_redis_never_flood_one_chat(
    prefix: str,
) -> None:
    one = RedisChatPacer(INTERVAL, REDIS_URL, prefix)
    two = RedisChatPacer(INTERVAL, REDIS_URL, prefix)
    try:
        api = await two_workers_send(one, two, 4)
    finally:
        await one.aclose()
        await two.aclose()
    assert len(api.sent_texts(CHAT)) == 8
    assert [c for c in api.calls if c.answered == 429] == []
    sends = api.sends[CHAT]
    gaps = [b - a for a, b in zip(sends, sends[1:], strict=False)]
    assert all(gap >= INTERVAL * 0.8 for gap in gaps), gaps
    # both workers sent (the slots were shared, not one worker's alone)
    assert {t.split()[0] for t in api.sent_texts(CHAT)} == {"a", "b"}


async def test_pacing_in_each_process_alone_floods_the_chat() -> None:
    # What the shared pacing is for: two workers each pacing on their own send
    # twice as fast as the chat allows, and the fake answers 429.
    api = await two_workers_send(ChatPacer(INTERVAL), ChatPacer(INTERVAL), 4)
    assert [c for c in api.calls if c.answered == 429]


async def test_a_429_on_one_worker_holds_every_worker_off(prefix: str) -> None:
    one = RedisChatPacer(0.0, REDIS_URL, prefix)
    two = RedisChatPacer(0.0, REDIS_URL, prefix)
    try:
        await one.take(str(CHAT))
        await one.hold_off(str(CHAT), 1.0)  # Telegram said retry_after 1
        started = time.monotonic()
        await two.take(str(CHAT))
        assert time.monotonic() - started >= 0.9
        await two.take("another chat")  # other chats are not held
        assert time.monotonic() - started < 1.5
        # a hold-off beyond what a sender waits for is left to the outbox
        await one.hold_off(str(CHAT), 120.0)
        with pytest.raises(SlotTooFar):
            await two.take(str(CHAT))
    finally:
        await one.aclose()
        await two.aclose()


async def test_without_redis_each_worker_paces_alone(prefix: str) -> None:
    # nothing listens there: pacing carries on in the process
    pacer = chat_pacer(INTERVAL, "redis://127.0.0.1:1/0", prefix)
    assert isinstance(pacer, RedisChatPacer)
    try:
        started = time.monotonic()
        await pacer.take(str(CHAT))
        await pacer.take(str(CHAT))
        assert time.monotonic() - started >= INTERVAL * 0.9
    finally:
        await pacer.aclose()
    assert isinstance(chat_pacer(INTERVAL, None, prefix), ChatPacer)
