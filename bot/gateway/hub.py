"""An in-process event hub: live updates for the widget and the console.

Topics are ``conversation:<id>`` (messages, typing, status of one conversation)
and ``queue`` (hand-overs and activity the adviser queue shows). Events are
plain JSON-able dicts with a ``type``:

* ``message``  - ``{"type", "conversation_id", "message": {id, message_type,
  sender, text, buttons, created_at, adviser_id}}``
* ``typing``   - ``{"type", "conversation_id", "active": bool}``
* ``status``   - ``{"type", "conversation_id", "status", "handoff_id"?,
  "reason"?}``

* ``resync``   - ``{"type"}``: events may have been missed (the Redis bridge
  reconnected); a stream re-reads what it shows from the database.

In the embedded profile the hub lives in one process. In the scaled profile a
``bot.gateway.bridge.RedisBridge`` attached to it forwards every event to the
other workers as a notice (a message as its id only) and publishes theirs here,
so events other than ``message`` must never carry personal text. ``publish`` is a
plain function, safe to call from the event loop or from a worker thread; a slow
subscriber loses its oldest events rather than holding up the publisher (the
widget and the console both re-read history from the database on reconnect).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Any

logger = logging.getLogger(__name__)

QUEUE_TOPIC = "queue"
SUBSCRIBER_BUFFER = 256


def conversation_topic(conversation_id: str) -> str:
    """Return the topic of one conversation."""
    return f"conversation:{conversation_id}"


class Subscription:
    """One subscriber's buffered view of a topic: iterate it, then close it."""

    def __init__(self, hub: Hub, topic: str) -> None:
        self.topic = topic
        self._hub = hub
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self.closed = False
        self.dropped = 0

    def _offer(self, event: dict[str, Any]) -> None:
        # Runs on the subscriber's loop.
        if self.closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def offer(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for this subscriber, from any thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._offer(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._offer, event)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Return the next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        if not self.closed:
            self.closed = True
            self._hub._remove(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self.closed:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop receiving events (async spelling, as for async generators)."""
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)


class Hub:
    """Topic -> subscribers, fanned out in process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._lock = threading.Lock()
        self._bridge: Any = None  # a RedisBridge in the scaled profile

    def attach(self, bridge: Any) -> None:
        """Also send every event to ``bridge`` (``None`` detaches)."""
        self._bridge = bridge

    @property
    def bridged(self) -> bool:
        """Whether events also reach other processes (the scaled profile)."""
        return self._bridge is not None

    def subscribe(self, topic: str) -> Subscription:
        """Start receiving the events published on ``topic`` from now on."""
        sub = Subscription(self, topic)
        with self._lock:
            self._subscribers[topic].add(sub)
        return sub

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        """Send ``event`` to every subscriber of ``topic``, here and in the other
        processes when bridged; return how many here."""
        bridge = self._bridge
        if bridge is not None:
            bridge.send(topic, event)
        return self.publish_local(topic, event)

    def publish_local(self, topic: str, event: dict[str, Any]) -> int:
        """Send ``event`` to this process's subscribers of ``topic`` only."""
        with self._lock:
            subs = list(self._subscribers.get(topic, ()))
        for sub in subs:
            sub.offer(event)
        return len(subs)

    def broadcast(self, event: dict[str, Any]) -> int:
        """Send ``event`` to every subscriber of every topic in this process."""
        with self._lock:
            subs = [sub for subs in self._subscribers.values() for sub in subs]
        for sub in subs:
            sub.offer(event)
        return len(subs)

    def subscriber_count(self, topic: str) -> int:
        """Return how many subscribers ``topic`` has."""
        with self._lock:
            return len(self._subscribers.get(topic, ()))

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.topic]


_hub = Hub()


def get_hub() -> Hub:
    """Return the process-wide hub."""
    return _hub


def publish(topic: str, event: dict[str, Any]) -> None:
    """Publish ``event`` on ``topic`` (callable from any thread, never blocks)."""
    _hub.publish(topic, event)


def subscribe(topic: str) -> Subscription:
    """Subscribe to ``topic``: ``async for event in subscribe(topic): ...``.

    The subscription starts at once (not at the first iteration), so read the
    history after subscribing and nothing falls in between; close it when done
    (``async with subscribe(t) as sub`` or ``sub.close()``).
    """
    return _hub.subscribe(topic)
