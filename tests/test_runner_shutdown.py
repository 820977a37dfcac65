"""A gateway stopped with SIGTERM (as `frontdoor run` stops it) first finishes the
turn in flight, on the widget and on Telegram, however long Rasa takes within its
timeout (real processes)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.db.migrate import upgrade
from bot.db.models import Message, MessageType
from bot.db.session import session_scope
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.runner import Stack, build_stack, start
from tests.e2e.people import wait_for
from tests.support.databases import throwaway_database
from tests.support.fake_bot_api import FakeBotApi
from tests.support.fake_rasa import FakeRasa
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.integration

# Longer than the 3 s grace the gateway used to have, inside the Rasa timeout.
SLOW_TURN_S = 5.0


def gateway_stack(
    database_url: str, rasa: FakeRasa, rasa_url: str, tmp_path: Path, **env: str
) -> Stack:
    """The gateway alone, against the fake Rasa at ``rasa_url``."""
    return build_stack(
        database_url=database_url,
        rasa_token=rasa.token,
        log_dir=tmp_path / "logs",
        rasa_port=int(rasa_url.rsplit(":", 1)[1]),
        with_rasa=False,
        with_actions=False,
        extra_env={
            "ENVIRONMENT": "development",
            "SESSION_SECRET": "shutdown-test-secret",
            "RASA_TIMEOUT_S": "8",
            **env,
        },
    )


def test_sigterm_lets_the_turn_in_flight_finish(tmp_path: Path) -> None:
    with throwaway_database("sqlite", tmp_path) as database_url:
        upgrade(database_url)
        rasa = FakeRasa(database_url=database_url, delay=SLOW_TURN_S)
        with serve_in_thread(rasa.app()) as rasa_url:
            stack = gateway_stack(database_url, rasa, rasa_url, tmp_path)
            start(stack, timeout=60)
            gateway = stack.service("gateway")
            try:
                http = httpx.Client(base_url=stack.gateway_url, timeout=30)
                conv = http.post("/api/widget/conversations", json={}).json()
                answer: list[httpx.Response] = []

                def say_hello() -> None:
                    answer.append(
                        http.post(
                            f"/api/widget/conversations/{conv['conversation_id']}"
                            "/messages",
                            json={
                                "token": conv["token"],
                                "client_message_id": "shutdown-0001",
                                "text": "hello",
                            },
                        )
                    )

                talker = threading.Thread(target=say_hello)
                talker.start()
                wait_for("the turn to reach Rasa", lambda: rasa.received, 20)
                assert gateway.proc is not None
                stopped_at = time.monotonic()
                gateway.proc.send_signal(signal.SIGTERM)
                talker.join(30)
                code = gateway.proc.wait(30)
                took = time.monotonic() - stopped_at
            finally:
                stack.stop()
    assert answer and answer[0].status_code == 200, gateway.log_path.read_text()
    replies = [r["text"] for r in answer[0].json()["replies"]]
    assert replies == ["Hello! What can I help with?"]
    # uvicorn re-raises the SIGTERM it caught once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM), code
    assert took < SLOW_TURN_S + 8, took


def test_sigterm_lets_a_telegram_turn_in_flight_finish(tmp_path: Path) -> None:
    # The webhook answers once the update is stored; the turn runs after that, so
    # the server's own graceful shutdown does not wait for it.
    api = FakeBotApi()
    secret = "shutdown-test-telegram-secret"
    with (
        throwaway_database("sqlite", tmp_path) as database_url,
        serve_in_thread(api.app()) as api_url,
    ):
        upgrade(database_url)
        rasa = FakeRasa(database_url=database_url, delay=SLOW_TURN_S)
        with serve_in_thread(rasa.app()) as rasa_url:
            stack = gateway_stack(
                database_url, rasa, rasa_url, tmp_path,
                TELEGRAM_BOT_TOKEN=api.token,
                TELEGRAM_WEBHOOK_SECRET=secret,
                TELEGRAM_BASE_URL=f"{api_url}/bot",
                TELEGRAM_MODE="webhook",
            )
            start(stack, timeout=60)
            gateway = stack.service("gateway")
            try:
                update = api.text_update(4_242_4242, "hello")
                acknowledged = httpx.post(
                    stack.gateway_url + WEBHOOK_PATH,
                    json=update,
                    headers={SECRET_HEADER: secret},
                    timeout=30,
                )
                assert acknowledged.status_code == 200
                wait_for("the turn to reach Rasa", lambda: rasa.received, 20)
                assert gateway.proc is not None
                gateway.proc.send_signal(signal.SIGTERM)
                code = gateway.proc.wait(30)
            finally:
                stack.stop()
        with session_scope(database_url) as session:
            rows = list(session.scalars(select(Message).order_by(Message.id)))
            incoming = [r for r in rows if r.message_type is MessageType.INCOMING]
            outgoing = [
                r.content for r in rows if r.message_type is MessageType.OUTGOING
            ]
            answered = [r.answered_at is not None for r in incoming]
    assert code in (0, -signal.SIGTERM), gateway.log_path.read_text()
    assert answered == [True], gateway.log_path.read_text()
    # the turn's answer, after Telegram's one-off privacy notice
    assert outgoing[-1] == "Hello! What can I help with?"
    assert [o.startswith("Before you start") for o in outgoing[:-1]] == [True]
