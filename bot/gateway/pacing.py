"""When the next message may go to one chat: Telegram's pacing, per chat.

Telegram asks for no more than about one message a second to one chat and
answers 429 ``retry_after`` past its flood limit. ``ChatPacer`` keeps that in
one process (the embedded profile). ``RedisChatPacer`` keeps one "next allowed
send" time per chat in Redis (``REDIS_URL``, keys under ``REDIS_KEY_PREFIX``),
so every worker on every host shares it: a sender asks one Lua script for the
chat, which either grants the send now (and moves the chat's next send on by
the interval) or says how long to wait, and the sender asks again then. The
grant is the moment before the send, never a slot booked ahead, so a sender
that wakes late cannot land its message on the next one's; two workers can
never both be granted one send; and a 429's ``retry_after`` pushes the next
send for all of them. The clock is Redis's own (``TIME``), so hosts agree.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis

from bot.gateway.locks import KeyedLocks

logger = logging.getLogger(__name__)

# KEYS[1] when the chat's next send may go (ms, Redis's clock); ARGV: interval
# ms. Returns 0 (send now: the next send moved on) or the ms to wait first.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot > now then return slot - now end
local after = now + tonumber(ARGV[1])
redis.call('SET', KEYS[1], after, 'PX', tonumber(ARGV[1]) + 60000)
return 0
"""

# KEYS[1] the chat's next slot; ARGV: hold-off ms. The slot moves, never back.
_HOLD_OFF = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ = now + tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < until_ then
  redis.call('SET', KEYS[1], until_, 'PX', until_ - now + 60000)
end
return 1
"""

# KEYS[1] the chat's next send; returns 1 while it is still to come
_BUSY = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if tonumber(redis.call('GET', KEYS[1]) or '0') > now then return 1 end
return 0
"""

# A slot further away than this is not waited for: the outbox tries again later
# (a long 429 hold-off must not keep a delivery task asleep).
MAX_WAIT_S = 30.0
PRUNE_AT = 1000  # chats remembered in process before the passed ones are dropped


class SlotTooFar(Exception):
    """The chat's next slot is further away than ``MAX_WAIT_S``."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"the chat's next send is {wait_s:.1f}s away")
        self.wait_s = wait_s


class ChatPacer:
    """One process's pacing: sends to a chat ``interval_s`` apart."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: dict[str, float] = {}  # monotonic seconds
        self._locks = KeyedLocks()

    async def take(self, chat: str) -> None:
        """Wait for the chat's turn to send (SlotTooFar if it is far off)."""
        # the chat's senders in this process, first come first served
        async with self._locks.hold(chat):
            wait = self._next.get(chat, 0.0) - time.monotonic()
            if wait > MAX_WAIT_S:
                raise SlotTooFar(wait)
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            if len(self._next) > PRUNE_AT:  # forget chats whose turn has passed
                self._next = {c: t for c, t in self._next.items() if t > now}
            self._next[chat] = now + self.interval_s

    async def busy(self, chat: str) -> bool:
        """Whether a send to the chat now would have to wait for its turn."""
        return self._next.get(chat, 0.0) > time.monotonic()

    async def hold_off(self, chat: str, seconds: float) -> None:
        """Send nothing to the chat for ``seconds`` (Telegram's retry_after)."""
        until = time.monotonic() + seconds
        self._next[chat] = max(self._next.get(chat, 0.0), until)

    async def aclose(self) -> None:
        """Nothing to close in one process."""


class RedisChatPacer:
    """The same slots, shared by every worker through Redis.

    If Redis cannot be reached, this worker paces on its own (``ChatPacer``) and
    logs it: a Redis outage slows nobody down and loses nothing; at worst two
    workers send to one chat in the same second, and Telegram's 429 holds off
    the outbox.
    """

    def __init__(self, interval_s: float, redis_url: str, prefix: str) -> None:
        self.interval_s = interval_s
        self.prefix = f"{prefix}:telegram:pace"
        self._redis = aioredis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE)
        self._hold = self._redis.register_script(_HOLD_OFF)
        self._busy = self._redis.register_script(_BUSY)
        self._local = ChatPacer(interval_s)
        self._locks = KeyedLocks()

    def _key(self, chat: str) -> str:
        return f"{self.prefix}:{chat}"

    async def take(self, chat: str) -> None:
        # this process's senders to the chat queue here first, so they ask
        # Redis one at a time and in order
        async with self._locks.hold(chat):
            while True:
                try:
                    wait_ms = int(
                        await self._take(
                            keys=[self._key(chat)],
                            args=[math_ms(self.interval_s)],
                        )
                    )
                except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
                    logger.warning(
                        "telegram pacing: Redis unavailable, paced in process"
                    )
                    break
                if wait_ms <= 0:
                    return
                if wait_ms > MAX_WAIT_S * 1000:
                    raise SlotTooFar(wait_ms / 1000)
                await asyncio.sleep(wait_ms / 1000)
        await self._local.take(chat)

    async def busy(self, chat: str) -> bool:
        try:
            return bool(int(await self._busy(keys=[self._key(chat)])))
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            return await self._local.busy(chat)

    async def hold_off(self, chat: str, seconds: float) -> None:
        await self._local.hold_off(chat, seconds)
        try:
            await self._hold(keys=[self._key(chat)], args=[math_ms(seconds)])
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            logger.warning("telegram pacing: Redis unavailable, 429 kept in process")

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()


def math_ms(seconds: float) -> int:
    """Return ``seconds`` in whole milliseconds, rounded up."""
    return max(0, int(-(-seconds * 1000 // 1)))


def chat_pacer(
    interval_s: float, redis_url: str | None, prefix: str
) -> ChatPacer | RedisChatPacer:
    """In process (embedded) or through Redis (when there is one)."""
    if redis_url:
        return RedisChatPacer(interval_s, redis_url, prefix)
    return ChatPacer(interval_s)
