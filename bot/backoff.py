"""Exponential backoff: how long to wait before the next try (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Waits that double from ``first_s`` up to ``max_s``."""

    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Return the wait before try ``attempt`` (1 is the first retry)."""
        if attempt <= 0:
            return 0.0
        # Capped before raising to a power, so a long outage never overflows.
        exponent = min(attempt - 1, 64)
        return float(min(self.first_s * self.factor**exponent, self.max_s))
