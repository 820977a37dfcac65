"""One process of many does a job: a PostgreSQL session-level advisory lock.

Telegram's polling (``getUpdates``) must run in exactly one process; in the
scaled profile every gateway worker asks for the lock and the one that gets it
polls. The lock lives as long as that worker's connection: if the worker
dies, PostgreSQL releases it and another worker's next try takes over.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from bot.gateway.locks import _conninfo, advisory_key

logger = logging.getLogger(__name__)


class Leadership:
    """Ask for ``name``'s lock until this process holds it."""

    def __init__(self, database_url: str, name: str, *, retry_s: float = 5.0) -> None:
        self._conninfo = _conninfo(database_url)
        self.name = name
        self.retry_s = retry_s
        self._conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def try_take(self) -> bool:
        """Take the lock if it is free; return whether this process holds it."""
        if self.held:
            return True
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True
            )
        except psycopg.Error:
            logger.warning("leadership %s: database unavailable", self.name)
            return False
        cursor = await conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (advisory_key(f"leader:{self.name}"),)
        )
        row = await cursor.fetchone()
        if row and row[0]:
            self._conn = conn
            logger.info("leadership %s: this process holds it", self.name)
            return True
        await conn.close()
        return False

    async def take(self) -> None:
        """Wait until this process holds the lock."""
        while not await self.try_take():
            await asyncio.sleep(self.retry_s)

    async def give_up(self) -> None:
        """Release the lock (closing the connection releases it)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
