"""The gateway's health report (which part is down) and Telegram's background
start-up with retries."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from bot.backoff import Backoff
from bot.db.session import session_scope
from bot.gateway.channels.telegram import TelegramChannel
from bot.gateway.leader import Leadership
from bot.gateway.rasa_client import HEALTH_TIMEOUT_S, RasaClient
from bot.settings import Settings

logger = logging.getLogger(__name__)

OK, DOWN, OFF, STARTING = "ok", "down", "off", "starting"
# another worker polls Telegram (the scaled profile); this one takes over if it dies
STANDBY = "standby"


class TelegramStarter:
    """Start the Telegram channel in the background, retrying with backoff.

    The gateway waits ``first_wait_s`` at most for the first try, so a healthy
    Telegram is registered by the time the gateway says it is up, and a Telegram
    outage holds up nothing. Updates that arrive meanwhile wait in PTB's queue.
    """

    def __init__(
        self,
        channel: TelegramChannel,
        *,
        backoff: Backoff | None = None,
        first_wait_s: float = 2.0,
        leadership: Leadership | None = None,
    ) -> None:
        self.channel = channel
        # polling with several workers: only the worker holding this polls
        self.leadership = leadership
        self.backoff = backoff or Backoff(first_s=1.0, max_s=60.0)
        self.first_wait_s = first_wait_s
        self.started = False
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None

    async def begin(self) -> None:
        """Start trying; return once started or after ``first_wait_s``."""
        self._task = asyncio.create_task(self._run(), name="telegram-start")
        await asyncio.wait({self._task}, timeout=self.first_wait_s)

    @property
    def standby(self) -> bool:
        """Waiting for another worker's polling to end (it is not down)."""
        return (
            not self.started
            and self.leadership is not None
            and not self.leadership.held
        )

    async def _run(self) -> None:
        if self.leadership is not None:
            await self.leadership.take()
        while True:
            self.attempts += 1
            try:
                await self.channel.start()
            except Exception as exc:  # noqa: BLE001 (any failure is retried)
                delay = self.backoff.delay(self.attempts)
                logger.warning(
                    "telegram could not start (try %d: %s: %s); retrying in %.0f s",
                    self.attempts,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                # Undo a half start (PTB initialised, webhook not set) first.
                with suppress(Exception):
                    await self.channel.stop()
                await asyncio.sleep(delay)
                continue
            self.started = True
            if self.attempts > 1:
                logger.warning("telegram started after %d tries", self.attempts)
            return

    async def stop(self) -> None:
        """Stop trying, and stop the channel if it started."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        with suppress(Exception):
            await self.channel.stop()
        if self.leadership is not None:
            with suppress(Exception):
                await self.leadership.give_up()


class Parts:
    """Probe what the gateway depends on: Rasa, the action server, the database."""

    def __init__(
        self,
        settings: Settings,
        rasa: RasaClient,
        telegram: TelegramStarter | None,
    ) -> None:
        self.settings = settings
        self.rasa = rasa
        self.telegram = telegram

    async def database_up(self) -> bool:
        """Return whether the database answers a trivial query."""

        def probe() -> bool:
            with session_scope(self.settings.database_url) as session:
                return session.execute(text("SELECT 1")).scalar_one() == 1

        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return await run_in_threadpool(probe)
        except Exception:  # noqa: BLE001 (down, whatever the reason)
            return False

    async def redis_up(self) -> bool:
        """Return whether Redis answers PING (the scaled profile's live updates,
        shared limits and Rasa's lock store)."""
        import redis.asyncio as aioredis

        client = aioredis.from_url(
            self.settings.redis_url or "", socket_timeout=HEALTH_TIMEOUT_S
        )
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return bool(await client.ping())  # type: ignore[misc]
        except Exception:  # noqa: BLE001 (down, whatever the reason)
            return False
        finally:
            await client.aclose()

    async def report(self) -> dict[str, Any]:
        """Return the health report: "status", then one field per part."""
        rasa, actions, database = await asyncio.gather(
            self.rasa.rasa_up(), self.rasa.action_server_up(), self.database_up()
        )
        parts: dict[str, str] = {
            "rasa": OK if rasa else DOWN,
            "action_server": OK if actions else DOWN,
            "database": OK if database else DOWN,
        }
        if self.settings.redis_url:
            parts["redis"] = OK if await self.redis_up() else DOWN
        if self.telegram is None:
            parts["telegram"] = OFF
        else:
            parts["telegram"] = (
                OK
                if self.telegram.started
                else STANDBY
                if self.telegram.standby
                else STARTING
            )
        down = [name for name, state in parts.items() if state in (DOWN, STARTING)]
        report: dict[str, Any] = {"status": "degraded" if down else OK, **parts}
        if down:
            report["down"] = down
        return report
