"""One message at a time per conversation: a lock per key, dropped when idle.

``KeyedLocks`` serves one process (the embedded profile); ``AdvisoryLocks``
every process and host on one PostgreSQL database (the scaled profile). Both
offer ``async with locks.hold(key)``; ``conversation_locks`` picks one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import make_url

from bot.settings import Settings


class KeyedLocks:
    """asyncio locks by key, removed once nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for ``key``; waiters are served first come, first served."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def advisory_key(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL's bigint lock id)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _conninfo(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLocks:
    """One holder per key across every process and host: PostgreSQL's
    ``pg_advisory_xact_lock``, held in a transaction of its own connection.

    Waiters in this process queue on an in-process lock first, so a process
    holds at most one PostgreSQL connection per busy conversation; PostgreSQL
    grants a lock to its waiters in the order they asked. The lock ends with
    its transaction, so a worker that dies never leaves a conversation locked.
    """

    def __init__(self, database_url: str, *, idle_connections: int = 8) -> None:
        self._conninfo = _conninfo(database_url)
        self._local = KeyedLocks()
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._max_idle = idle_connections

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            idle = conn.info.transaction_status == TransactionStatus.IDLE
            if not conn.closed and idle:
                return conn
            await conn.close()
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def _release(
        self, conn: psycopg.AsyncConnection[Any], healthy: bool
    ) -> None:
        if healthy and not conn.closed and len(self._idle) < self._max_idle:
            self._idle.append(conn)
        else:
            await conn.close()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold ``key`` against every other holder, in any process."""
        async with self._local.hold(key):
            conn = await self._connection()
            try:
                async with conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (advisory_key(key),)
                    )
                    yield
            finally:
                # after COMMIT or ROLLBACK a sound connection is idle again
                await self._release(
                    conn, conn.info.transaction_status == TransactionStatus.IDLE
                )

    async def aclose(self) -> None:
        """Close the idle connections."""
        while self._idle:
            await self._idle.pop().close()

    def __len__(self) -> int:
        return len(self._local)


def conversation_locks(settings: Settings) -> KeyedLocks | AdvisoryLocks:
    """The lock for the profile: in process (embedded), PostgreSQL (scaled)."""
    if settings.is_scaled:
        return AdvisoryLocks(settings.database_url)
    return KeyedLocks()
