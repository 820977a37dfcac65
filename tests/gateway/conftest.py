"""Gateway test harness: the real app on a loopback port, a fake Rasa behind it."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette

from bot.db.session import get_sessionmaker
from bot.gateway.app import create_app
from bot.gateway.pipeline import Pipeline
from bot.runner import free_port
from bot.settings import Settings
from tests.support.fake_rasa import FakeRasa
from tests.support.servers import serve

ALLOWED_ORIGIN = "https://riverside-garden.example"
# A Wednesday, inside "Mon-Fri 09:00-17:00" (London is on GMT in January).
IN_HOURS = datetime(2027, 1, 13, 11, 0, tzinfo=UTC)
# A Saturday.
OUT_OF_HOURS = datetime(2027, 1, 16, 11, 0, tzinfo=UTC)


@dataclass
class Harness:
    """A running gateway, its fake Rasa and an HTTP client for it."""

    url: str
    app: Starlette
    settings: Settings
    rasa: FakeRasa
    http: httpx.AsyncClient

    @property
    def pipeline(self) -> Pipeline:
        return self.app.state.pipeline  # type: ignore[no-any-return]

    def set_time(self, when: datetime) -> None:
        self.pipeline.clock = lambda: when

    @contextmanager
    def db(self) -> Iterator[Session]:
        with get_sessionmaker(self.settings.database_url)() as session:
            yield session

    async def start(self, **body: Any) -> dict[str, Any]:
        response = await self.http.post("/api/widget/conversations", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    async def send(
        self,
        conv: dict[str, Any],
        text: str,
        *,
        client_id: str | None = None,
        payload: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "token": conv["token"],
            "client_message_id": client_id or secrets.token_hex(8),
            "text": text,
        }
        if payload is not None:
            body["payload"] = payload
        return await self.http.post(
            f"/api/widget/conversations/{conv['conversation_id']}/messages", json=body
        )


HarnessFactory = Callable[..., AbstractAsyncContextManager[Harness]]


def make_settings(database_url: str, rasa_url: str, **overrides: Any) -> Settings:
    """Return settings for a test gateway (development mode, test secrets)."""
    values: dict[str, Any] = {
        "environment": "development",
        "database_url": database_url,
        "rasa_url": rasa_url,
        "rasa_token": "test-rasa-token",
        "rasa_timeout_s": 3.0,
        "session_secret": "test-session-secret",
        "widget_allowed_origins": [ALLOWED_ORIGIN],
        "widget_rate_limit_per_minute": 1000,
        "adviser_hours": "Mon-Fri 09:00-17:00",
        "telegram_bot_token": None,
        # Telegram's pacing scaled down (the Bot API fake's flood limit allows a
        # burst); the privacy notice is tested in tests/gateway/test_telegram*.
        "telegram_chat_interval_s": 0.05,
        "telegram_privacy_notice": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_gateway(migrated_db_url: str) -> HarnessFactory:
    """Return ``async with start_gateway(**settings) as h``: gateway + fake Rasa."""

    @asynccontextmanager
    async def start(
        *, rasa_up: bool = True, **overrides: Any
    ) -> AsyncIterator[Harness]:
        rasa = FakeRasa(database_url=migrated_db_url)
        async with serve(rasa.app()) as rasa_url:
            if not rasa_up:
                # A port nobody listens on: connection refused at once.
                rasa_url = f"http://127.0.0.1:{free_port()}"
            settings = make_settings(migrated_db_url, rasa_url, **overrides)
            app = create_app(settings)
            async with serve(app) as url:
                async with httpx.AsyncClient(base_url=url, timeout=20) as http:
                    harness = Harness(url, app, settings, rasa, http)
                    harness.set_time(IN_HOURS)
                    yield harness

    return start


@pytest.fixture
async def gw(start_gateway: HarnessFactory) -> AsyncIterator[Harness]:
    """A gateway in adviser hours with a working fake Rasa."""
    async with start_gateway() as harness:
        yield harness


async def until(
    check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own on the shared server, its keys
    deleted afterwards (the scaled-profile tests: limits, pacing, workers)."""
    import os

    import redis.asyncio as aioredis

    name = f"fdtest-{secrets.token_hex(6)}"
    yield name
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
