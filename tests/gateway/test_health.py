"""/healthz names the part that is down; a Telegram outage at start-up holds up
neither the widget nor the health check, and Telegram starts once it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.gateway.channels.telegram import WEBHOOK_PATH
from bot.gateway.health import Parts
from bot.gateway.rasa_client import RasaClient
from bot.runner import free_port
from tests.gateway.conftest import Harness, HarnessFactory
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve

pytestmark = pytest.mark.integration

TOKEN = "test-rasa-token"


def rasa_and_actions() -> Starlette:
    """Rasa's /status (model loaded) and the action server's /health, on one port."""

    async def status(request: Request) -> Response:
        # the token in a header, as rasa_addons/run.py wants it
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorised"}, 401)
        return JSONResponse({"model_file": "frontdoor.tar.gz"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/status", status, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


@asynccontextmanager
async def parts_up() -> AsyncIterator[str]:
    async with serve(rasa_and_actions()) as url:
        yield url


def probe_at(h: Harness, url: str) -> None:
    """Point the health check's Rasa and action server at ``url`` (the fake Rasa
    of the harness has no /status)."""
    settings = h.settings.model_copy(
        update={"rasa_url": url, "action_server_url": f"{url}/webhook"}
    )
    old: Parts = h.app.state.health
    h.app.state.health = Parts(settings, RasaClient(settings), old.telegram)


async def test_all_up_is_ok_with_every_part_named(
    start_gateway: HarnessFactory,
) -> None:
    async with parts_up() as url, start_gateway() as h:
        probe_at(h, url)
        response = await h.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "rasa": "ok",
        "action_server": "ok",
        "database": "ok",
        "telegram": "off",
    }


async def test_the_parts_that_are_down_are_named(
    start_gateway: HarnessFactory,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with start_gateway(rasa_up=False, action_server_url=f"{nobody}/webhook") as h:
        # The gateway still takes messages: they are queued for an adviser.
        conv = await h.start()
        sent = await h.send(conv, "How do we recruit trustees?")
        response = await h.http.get("/healthz")
    assert sent.status_code == 200 and sent.json()["status"] == "queued"
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["rasa"], body["action_server"], body["database"]) == (
        "down",
        "down",
        "ok",
    )
    assert body["down"] == ["rasa", "action_server"]


async def test_database_down_is_named(start_gateway: HarnessFactory) -> None:
    unreachable = f"postgresql+psycopg://fd@127.0.0.1:{free_port()}/frontdoor"
    async with parts_up() as url, start_gateway() as h:
        probe_at(h, url)
        h.app.state.health.settings.database_url = unreachable
        response = await h.http.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["database"], body["down"]) == (
        "degraded",
        "down",
        ["database"],
    )


async def test_telegram_down_at_start_up_starts_once_it_is_back(
    start_gateway: HarnessFactory,
) -> None:
    api = FakeBotApi()
    port = free_port()  # nothing listens yet: Telegram is down
    async with (
        parts_up() as url,
        start_gateway(
            telegram_bot_token=api.token,
            telegram_webhook_secret="health-test-secret",
            telegram_base_url=f"http://127.0.0.1:{port}/bot",
            telegram_mode="webhook",
        ) as h,
    ):
        probe_at(h, url)
        # The widget and the health check work meanwhile.
        conv = await h.start()
        assert (await h.send(conv, "hello")).status_code == 200
        during = (await h.http.get("/healthz")).json()
        assert (during["status"], during["telegram"]) == ("degraded", "starting")
        assert during["down"] == ["telegram"]

        async with serve(api.app(), port=port):
            starter = h.app.state.health.telegram
            deadline = time.monotonic() + 30
            while not starter.started:
                assert time.monotonic() < deadline, "telegram never started"
                await asyncio.sleep(0.05)
            webhook = api.called("setWebhook")[0]
            assert webhook["url"].endswith(WEBHOOK_PATH)
            assert starter.attempts > 1
            after = (await h.http.get("/healthz")).json()
    assert (after["status"], after["telegram"]) == ("ok", "ok")
