"""A sliding-window rate limit per client key, kept in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    def hit(self, key: str) -> float | None:
        """Count one hit; return None if allowed, else seconds until one is."""
        now = self._clock()
        self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.window - now, 0.0)
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        # Forget idle clients now and then so memory stays bounded.
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        for key in [
            k for k, h in self._hits.items() if not h or h[-1] <= now - self.window
        ]:
            del self._hits[key]
