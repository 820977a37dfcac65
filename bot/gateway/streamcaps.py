"""How many event streams one conversation may hold open, across every worker.

Embedded profile: a count in this process. Scaled profile: a Redis sorted set
per conversation, one member per open stream scored by when it lapses; a
stream renews its member at each heartbeat, so a worker that dies without
closing its streams frees their places within ``ttl_s``. Taking a place is one
Lua script (count the live members, add ours if there is room), so two workers
can never both take the last one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

# KEYS[1] the conversation's set; ARGV: now, lapse time, member, limit, ttl
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class StreamCaps:
    """At most ``limit`` open streams per conversation (in this process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    async def take(self, key: str) -> str | None:
        """Take a place for a stream of ``key``; None when all are taken."""
        if self._open[key] >= self.limit:
            return None
        self._open[key] += 1
        return key

    async def renew(self, place: str) -> None:
        """Keep a place alive (nothing to do in one process)."""

    async def give_back(self, place: str) -> None:
        """Free a place taken by ``take``."""
        self._open[place] -= 1
        if self._open[place] <= 0:
            del self._open[place]

    def open_count(self, key: str) -> int:
        return self._open[key]


class RedisStreamCaps:
    """The same caps, shared by every worker through Redis."""

    def __init__(
        self, limit: int, redis_url: str, prefix: str, *, ttl_s: float = 45.0
    ) -> None:
        self.limit, self.ttl_s = limit, ttl_s
        self.prefix = f"{prefix}:streams"
        self._redis = aioredis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def take(self, key: str) -> str | None:
        member = secrets.token_hex(8)
        now = time.time()
        try:
            taken = await self._take(
                keys=[self._key(key)],
                args=[now, now + self.ttl_s, member, self.limit, int(self.ttl_s) + 1],
            )
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            # Redis down: the stream is allowed (a cap is not worth a lost reply)
            logger.warning("stream caps: Redis unavailable, stream allowed")
            return f"{key}|{member}|unchecked"
        return f"{key}|{member}" if taken else None

    async def renew(self, place: str) -> None:
        key, member, *_ = place.split("|")
        try:
            await self._redis.zadd(
                self._key(key), {member: time.time() + self.ttl_s}, xx=True
            )
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            logger.debug("stream caps: could not renew a place")

    async def give_back(self, place: str) -> None:
        key, member, *_ = place.split("|")
        try:
            await self._redis.zrem(self._key(key), member)
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            logger.debug("stream caps: could not give a place back (it lapses)")


def stream_caps(
    limit: int, redis_url: str | None, prefix: str
) -> StreamCaps | RedisStreamCaps:
    """In process (embedded) or through Redis (when there is one)."""
    if redis_url:
        return RedisStreamCaps(limit, redis_url, prefix)
    return StreamCaps(limit)
