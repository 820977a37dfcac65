"""Rate limits per client key, on the `limits` library.

Embedded profile: its in-memory storage, one process. Scaled profile: its Redis
storage (``REDIS_URL``, keys under ``REDIS_KEY_PREFIX``), so a hit on one
worker counts on every other worker and host. A moving window: at most
``limit`` hits in any ``window`` seconds.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)


def storage_for(redis_url: str | None, prefix: str) -> Storage:
    """Redis storage when there is a Redis, else memory."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url.replace("redis://", "async+redis://", 1).replace(
        "rediss://", "async+rediss://", 1
    )
    return RedisStorage(uri, implementation="redispy", key_prefix=f"{prefix}:limits")


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        storage: Storage | None = None,
        name: str = "widget",
    ) -> None:
        self.limit, self.window = limit, window
        self.item: RateLimitItem = RateLimitItemPerSecond(
            limit, max(int(window), 1), namespace=name
        )
        self.storage = storage if storage is not None else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, key: str) -> float | None:
        """Count one hit; return None if allowed, else seconds until one is.

        If the shared storage cannot be reached the hit is allowed (and
        logged): a Redis outage must not turn every person away.
        """
        try:
            if await self._limiter.hit(self.item, key):
                return None
            stats = await self._limiter.get_window_stats(self.item, key)
        except Exception:
            logger.warning("rate limit storage unavailable: request allowed")
            return None
        return max(stats.reset_time - time.time(), 0.0)
