"""The in-process hub, the per-conversation locks and the rate limiter."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.gateway import hub
from bot.gateway.locks import KeyedLocks
from bot.gateway.rasa_client import RasaUnavailable, _parse_reply
from bot.gateway.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


async def test_hub_fans_out_to_subscribers_of_a_topic_only() -> None:
    a = hub.subscribe("conversation:a")
    b = hub.subscribe("conversation:b")
    hub.publish("conversation:a", {"type": "typing", "active": True})
    assert await a.get(1) == {"type": "typing", "active": True}
    assert await b.get(0.05) is None
    a.close()
    b.close()
    assert hub.get_hub().subscriber_count("conversation:a") == 0


async def test_hub_publish_from_a_worker_thread() -> None:
    async with hub.subscribe("queue") as sub:
        thread = threading.Thread(target=hub.publish, args=("queue", {"n": 1}))
        thread.start()
        thread.join()
        assert await sub.get(1) == {"n": 1}


async def test_hub_async_iteration_and_slow_subscriber_drops_oldest() -> None:
    sub = hub.subscribe("queue")
    for n in range(hub.SUBSCRIBER_BUFFER + 10):
        hub.publish("queue", {"n": n})
    first = await sub.__anext__()
    assert first == {"n": 10} and sub.dropped == 10
    await sub.aclose()


async def test_locks_serialise_one_key_and_are_cleaned_up() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, name: str, delay: float) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(delay)
            order.append(f"{name}-")

    await asyncio.gather(work("k", "a", 0.05), work("k", "b", 0), work("other", "c", 0))
    assert order.index("a-") < order.index("b+")
    assert len(locks) == 0


async def test_rate_limiter_window() -> None:
    limiter = RateLimiter(3, 60)
    assert [await limiter.hit("visitor:a") for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("visitor:a")
    assert wait is not None and 55 < wait <= 60
    assert await limiter.hit("visitor:b") is None


def test_rasa_reply_parsing() -> None:
    reply = _parse_reply(
        {
            "messages": [
                {
                    "recipient_id": "x",
                    "text": "Hi",
                    "buttons": [{"title": "A", "payload": "/a"}],
                },
                {"image": "http://example.invalid/i.png"},
            ],
            "intent": {"name": "greet", "confidence": 0.9},
            "paused": False,
        }
    )
    assert [m.text for m in reply.messages] == ["Hi"]
    assert reply.messages[0].buttons == [{"title": "A", "payload": "/a"}]
    assert (reply.intent, reply.confidence, reply.paused) == ("greet", 0.9, False)
    with pytest.raises(RasaUnavailable):
        _parse_reply({"error": "action_server_unavailable"})


def test_json_log_lines_carry_conversation_id() -> None:
    import json
    import logging

    from bot.gateway.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "bot.gateway", "levelname": "INFO", "msg": "stored %s", "args": (1,)}
    )
    record.conversation_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "stored 1" and line["conversation_id"] == "abc"
