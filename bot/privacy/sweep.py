"""The retention sweep: conversations idle longer than RETENTION_DAYS keep only
their anonymous facts. Daily inside the running gateway, and by hand with
``frontdoor privacy sweep [--now ISO-8601]``. In the scaled profile only one
gateway worker sweeps in each interval (a Redis key with an expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.db.base import utcnow
from bot.db.models import Conversation, Message
from bot.db.session import session_scope
from bot.privacy.erasure import Removed, anonymise_conversations
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

BATCH = 500
SWEEPER = "retention sweep"
RETRY_S = 60.0  # when the scaled profile's Redis did not answer


def due(
    session: Session, *, now: datetime, days: int, limit: int | None = BATCH
) -> list[str]:
    """Return conversations whose last activity is more than ``days`` before ``now``.

    Last activity: the conversation's last change and its newest message.
    """
    cutoff = now - timedelta(days=days)
    recent = exists(
        select(Message.id).where(
            Message.conversation_id == Conversation.id, Message.created_at >= cutoff
        )
    )
    return list(
        session.scalars(
            select(Conversation.id)
            .where(
                Conversation.anonymised_at.is_(None),
                Conversation.updated_at < cutoff,
                Conversation.created_at < cutoff,
                ~recent,
            )
            .order_by(Conversation.updated_at, Conversation.id)
            .limit(limit)
        )
    )


def sweep(
    url: str | None = None,
    *,
    now: datetime | None = None,
    days: int | None = None,
    by: str = SWEEPER,
    dry_run: bool = False,
) -> list[str]:
    """Anonymise every conversation past the policy; return their ids.

    Batches of BATCH, each in its own transaction. ``dry_run``: only say which.
    """
    now = now or utcnow()
    days = days or get_settings().retention_days
    if dry_run:
        with session_scope(url) as session:
            return due(session, now=now, days=days, limit=None)
    done: list[str] = []
    while True:
        with session_scope(url) as session:
            ids = due(session, now=now, days=days)
            if ids:
                anonymise_conversations(session, ids, by=by, now=now)
        done.extend(ids)
        if len(ids) < BATCH:
            return done


class EveryProcess:
    """The embedded profile: its one gateway process sweeps at every interval."""

    async def claim(self) -> bool | None:
        """Return True: this process always has the turn."""
        return True

    async def aclose(self) -> None:
        """Nothing to close."""


class OncePerInterval:
    """The scaled profile: one gateway worker of many sweeps each interval.

    The turn is a Redis key set with NX and an expiry of one interval: the
    worker whose SET succeeds sweeps, every other worker's try in that
    interval fails and it skips. When the key expires the next worker to try
    takes the turn, so a worker that died hands the sweep on by itself.
    """

    def __init__(self, redis_url: str, prefix: str, every_s: float) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.from_url(redis_url, socket_timeout=5)
        self.key = f"{prefix}:privacy:retention-sweep"
        self.every_ms = max(1, int(every_s * 1000))
        self.me = f"{socket.gethostname()}:{os.getpid()}"

    async def claim(self) -> bool | None:
        """Take this interval's turn if it is free; None if Redis did not answer."""
        import redis.asyncio as aioredis

        try:
            taken = await self.client.set(self.key, self.me, nx=True, px=self.every_ms)
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            log.warning("privacy: retention sweep: Redis unavailable, retrying")
            return None
        return bool(taken)

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.client.aclose()


SweepTurn = EveryProcess | OncePerInterval


def turn_for(settings: Settings) -> SweepTurn:
    """Return who sweeps when: every process (embedded), or one worker per
    interval through Redis (scaled)."""
    if settings.is_scaled and settings.redis_url:
        return OncePerInterval(
            settings.redis_url,
            settings.redis_key_prefix,
            settings.retention_sweep_every_s,
        )
    return EveryProcess()


class RetentionSweeper:
    """The daily sweep inside the running gateway (started in its lifespan)."""

    def __init__(
        self, settings: Settings | None = None, *, turn: SweepTurn | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.every_s = self.settings.retention_sweep_every_s
        self.turn = turn
        self.task: asyncio.Task[None] | None = None
        self.last: Removed | None = None
        self.runs = 0  # sweeps this process made

    async def run_once(self) -> bool | None:
        """Sweep now if this process has this interval's turn; return whether
        it swept (None: the turn could not be asked for)."""
        if self.turn is None:
            self.turn = turn_for(self.settings)
        mine = await self.turn.claim()
        if not mine:
            return mine
        swept = await run_in_threadpool(
            lambda: sweep(self.settings.database_url, days=self.settings.retention_days)
        )
        self.runs += 1
        if swept:
            log.info("privacy: retention sweep anonymised %d", len(swept))
        return True

    async def start(self) -> None:
        if self.every_s > 0 and self.task is None:
            self.task = asyncio.create_task(self._loop(), name="retention-sweep")

    async def _loop(self) -> None:
        while True:
            wait = self.every_s
            try:
                if await self.run_once() is None:
                    wait = min(self.every_s, RETRY_S)
            except Exception:
                log.exception("privacy: retention sweep failed")
            await asyncio.sleep(wait)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.turn is not None:
            await self.turn.aclose()
            self.turn = None
