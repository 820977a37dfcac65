"""The retention sweep: conversations idle longer than RETENTION_DAYS keep only
their anonymous facts. Daily inside the running gateway, and by hand with
``frontdoor privacy sweep [--now ISO-8601]``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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


class RetentionSweeper:
    """The daily sweep inside the running gateway (started in its lifespan)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.every_s = self.settings.retention_sweep_every_s
        self.task: asyncio.Task[None] | None = None
        self.last: Removed | None = None

    async def start(self) -> None:
        if self.every_s > 0 and self.task is None:
            self.task = asyncio.create_task(self._loop(), name="retention-sweep")

    async def _loop(self) -> None:
        while True:
            try:
                swept = await run_in_threadpool(
                    lambda: sweep(
                        self.settings.database_url, days=self.settings.retention_days
                    )
                )
                if swept:
                    log.info("privacy: retention sweep anonymised %d", len(swept))
            except Exception:
                log.exception("privacy: retention sweep failed")
            await asyncio.sleep(self.every_s)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
