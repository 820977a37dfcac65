"""The Redis bridge's receiving side: a notice becomes a local hub event, and a
message notice is read back from the database only for a stream listening here."""

from __future__ import annotations

from typing import Any

from bot.gateway import hub
from bot.gateway.bridge import RedisBridge, notice


def _bridge(reads: list[int]) -> RedisBridge:
    def hydrate(message_id: int) -> dict[str, Any] | None:
        reads.append(message_id)
        return {"id": message_id, "text": "as committed"}

    return RedisBridge("redis://127.0.0.1:1/0", "test", hydrate)


async def test_a_message_notice_nobody_here_listens_to_is_not_read_back() -> None:
    reads: list[int] = []
    bridge = _bridge(reads)
    topic = hub.conversation_topic("c-nobody")
    event = {"type": "message", "message": {"id": 41, "text": "secret"}}
    await bridge._deliver(notice(topic, event, origin="another-worker"))
    assert reads == []


async def test_a_message_notice_for_a_stream_here_is_read_back_and_published() -> None:
    reads: list[int] = []
    bridge = _bridge(reads)
    topic = hub.conversation_topic("c-listening")
    event = {"type": "message", "message": {"id": 42, "text": "never on Redis"}}
    encoded = notice(topic, event, origin="another-worker")
    assert "never on Redis" not in encoded  # Redis carries the id only
    async with hub.subscribe(topic) as sub:
        await bridge._deliver(encoded)
        got = await sub.get(timeout=1.0)
    assert reads == [42]
    assert got == {"type": "message", "message": {"id": 42, "text": "as committed"}}


async def test_its_own_notice_is_not_published_twice() -> None:
    reads: list[int] = []
    bridge = _bridge(reads)
    topic = hub.conversation_topic("c-own")
    async with hub.subscribe(topic) as sub:
        await bridge._deliver(
            notice(topic, {"type": "typing", "on": True}, origin=bridge.origin)
        )
        assert await sub.get(timeout=0.2) is None
    assert reads == []
