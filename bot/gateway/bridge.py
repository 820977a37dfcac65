"""The hub across processes: Redis pub/sub carries notices, never message text.

In the scaled profile every gateway worker (on any host) runs one bridge. A
local ``hub.publish`` also goes out on one Redis channel as a notice: a
``message`` event is reduced to its message id, every other event (typing,
status) is small and carries no personal text. Each other worker's bridge
receives the notice and publishes it on its own hub; a message notice is
first read back from the database, so what reaches a stream is what was
committed.

Pub/sub delivers at most once: a notice sent while a worker was cut off from
Redis never arrives. So whenever the bridge (re)subscribes it publishes a
``resync`` event to every local subscriber, and the streams catch up from the
database (the widget's from its last message id, the console's by reloading);
nothing is lost, at worst it arrives a moment late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from bot.backoff import Backoff
from bot.gateway import hub

logger = logging.getLogger(__name__)

RESYNC_EVENT: dict[str, Any] = {"type": "resync"}
OUTGOING_BUFFER = 10_000

# Reads one message's view (hub.events.message_view) by id; None if it is gone.
Hydrate = Callable[[int], dict[str, Any] | None]


def channel_name(prefix: str) -> str:
    """The one Redis channel the workers share (the key prefix keeps runs apart)."""
    return f"{prefix}:hub"


def notice(topic: str, event: dict[str, Any], origin: str) -> str:
    """Encode ``event`` on ``topic`` for Redis: a message becomes its id."""
    body = dict(event)
    message = body.pop("message", None)
    if isinstance(message, dict):
        body["message_id"] = message["id"]
    return json.dumps({"o": origin, "t": topic, "e": body}, separators=(",", ":"))


class RedisBridge:
    """Forward this process's hub events to the others, and theirs to it."""

    def __init__(
        self,
        url: str,
        prefix: str,
        hydrate: Hydrate,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.url, self.channel = url, channel_name(prefix)
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._hydrate = hydrate
        self._backoff = backoff or Backoff(first_s=0.2, max_s=5.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(OUTGOING_BUFFER)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()
        self.resubscriptions = 0  # times it (re)subscribed after the first
        self.dropped = 0

    # ------------------------------------------------------------------ out

    def send(self, topic: str, event: dict[str, Any]) -> None:
        """Queue a notice of ``event`` (from any thread; never blocks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        item = notice(topic, event, self.origin)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(item)
        else:
            loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: str) -> None:
        if self._outgoing.full():
            self._outgoing.get_nowait()  # the streams' catch-up covers it
            self.dropped += 1
        self._outgoing.put_nowait(item)

    async def _sender(self) -> None:
        attempt = 0
        client = aioredis.from_url(self.url)
        try:
            item: str | None = None
            while True:
                if item is None:
                    item = await self._outgoing.get()
                try:
                    await client.publish(self.channel, item)
                    item, attempt = None, 0
                except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                    attempt += 1
                    if attempt == 1:
                        logger.warning("redis: cannot publish, retrying")
                    await asyncio.sleep(self._backoff.delay(attempt))
        finally:
            await client.aclose()

    # ------------------------------------------------------------------- in

    async def _receiver(self) -> None:
        attempt = 0
        while True:
            client = aioredis.from_url(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if attempt or self.subscribed.is_set():
                    self.resubscriptions += 1
                    logger.info("redis: subscribed again after an interruption")
                attempt = 0
                self.subscribed.set()
                # Whatever was published while we were not listening is in the
                # database: every stream catches up from there.
                hub.get_hub().broadcast(RESYNC_EVENT)
                async for raw in pubsub.listen():
                    if raw.get("type") == "message":
                        await self._deliver(raw["data"])
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                attempt += 1
                if attempt == 1:
                    logger.warning("redis: subscription lost, reconnecting")
                    self.subscribed.clear()
                await asyncio.sleep(self._backoff.delay(attempt))
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # the connection is already gone
                    logger.debug("redis: closing a lost connection failed")

    async def _deliver(self, data: bytes | str) -> None:
        try:
            item = json.loads(data)
            if item.get("o") == self.origin:
                return  # our own: local subscribers already had it
            topic, event = str(item["t"]), dict(item["e"])
        except (ValueError, KeyError, TypeError):
            logger.warning("redis: ignored a malformed notice")
            return
        local = hub.get_hub()
        if not local.subscriber_count(topic):
            # No stream here listens to it: nothing to read back (one that
            # subscribes later catches up from the database as it opens).
            return
        message_id = event.pop("message_id", None)
        if message_id is not None:
            view = await run_in_threadpool(self._hydrate, int(message_id))
            if view is None:
                return  # erased or rolled back since: nothing to show
            event["message"] = view
        local.publish_local(topic, event)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Attach to the hub and run until ``stop``."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._receiver(), name="redis-bridge-in"),
            asyncio.create_task(self._sender(), name="redis-bridge-out"),
        ]
        hub.get_hub().attach(self)

    async def stop(self) -> None:
        """Detach and close the connections."""
        hub.get_hub().attach(None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
