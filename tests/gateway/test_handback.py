"""Hand back and resolve give the conversation back to the bot for real: Rasa's
pause is lifted (now, or before the bot's next turn if Rasa was down), and the
adviser is told the truth about which."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from bot.console import auth
from bot.db.models import Conversation, Handoff
from bot.db.repositories import advisers
from bot.db.session import session_scope
from bot.domain.handoff import Status
from bot.gateway.turns import BOT_UNAVAILABLE_TEXT
from bot.settings import get_settings
from tests.gateway.conftest import Harness, HarnessFactory

pytestmark = pytest.mark.integration

GREETING = "Hello! What can I help with?"


@dataclass
class Console:
    client: httpx.AsyncClient
    csrf: str
    base: str

    async def post(self, path: str, **fields: str) -> httpx.Response:
        return await self.client.post(
            f"/console{path}",
            data={"csrf_token": self.csrf, **fields},
            headers={"Origin": self.base},
        )


@pytest.fixture
async def stack(
    start_gateway: HarnessFactory,
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Harness, Console]]:
    """The gateway with its console, and a signed-in adviser."""
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    get_settings.cache_clear()
    try:
        with session_scope(migrated_db_url) as s:
            adviser = advisers.create_adviser(
                s, username="jo", display_name="Jo", password_hash="-"
            )
            session = auth.new_session(s, adviser_id=adviser.id, ttl=auth.IDLE_TTL)
        async with start_gateway() as h:
            h.http.cookies.set(auth.COOKIE_NAME, session.token)
            yield h, Console(h.http, session.csrf_token, h.url)
    finally:
        get_settings.cache_clear()


def _conversation(h: Harness, cid: str) -> Conversation:
    with h.db() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        return conversation


def _reasons(h: Harness, cid: str) -> list[str]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Handoff.reason)
                .where(Handoff.conversation_id == cid)
                .order_by(Handoff.id)
            )
        )


async def _handed_over(h: Harness) -> tuple[dict[str, str], str]:
    conv = await h.start()
    body = (await h.send(conv, "I'd like to talk to a person")).json()
    assert body["status"] == "queued"
    cid = conv["conversation_id"]
    assert _conversation(h, cid).bot_paused
    return conv, cid


async def test_hand_back_resumes_rasa_and_the_bot_answers(
    stack: tuple[Harness, Console],
) -> None:
    h, console = stack
    conv, cid = await _handed_over(h)
    r = await console.post(f"/conversations/{cid}/hand-back")
    assert r.headers["location"] == "/console/?notice=handed_back"
    assert h.rasa.resumed == [cid]
    assert not _conversation(h, cid).bot_paused
    body = (await h.send(conv, "hello")).json()
    assert [m["text"] for m in body["replies"]] == [GREETING]
    assert body["status"] == "bot"
    assert h.rasa.resumed == [cid]  # lifted once, not at every turn
    assert _reasons(h, cid) == ["asked_for_person"]


async def test_hand_back_with_rasa_down_tells_the_truth_and_resumes_later(
    stack: tuple[Harness, Console],
) -> None:
    h, console = stack
    conv, cid = await _handed_over(h)
    h.rasa.status_code = 503
    r = await console.post(f"/conversations/{cid}/hand-back")
    assert r.headers["location"] == "/console/?notice=handed_back_unconfirmed"
    page = await h.http.get("/console/?notice=handed_back_unconfirmed")
    assert "the bot is not reachable right now" in page.text
    back = _conversation(h, cid)
    assert back.status is Status.BOT and back.bot_paused  # still to be lifted
    h.rasa.status_code = 200  # Rasa is back before the person writes
    body = (await h.send(conv, "hello")).json()
    assert h.rasa.resumed == [cid]  # lifted before the turn ...
    assert [m["text"] for m in body["replies"]] == [GREETING]  # ... so it answers
    assert not _conversation(h, cid).bot_paused


async def test_with_rasa_still_down_the_person_is_told_and_queued_again(
    stack: tuple[Harness, Console],
) -> None:
    h, console = stack
    conv, cid = await _handed_over(h)
    h.rasa.status_code = 503
    await console.post(f"/conversations/{cid}/hand-back")
    body = (await h.send(conv, "hello")).json()
    assert [m["text"] for m in body["replies"]] == [BOT_UNAVAILABLE_TEXT]
    assert body["status"] == "queued"  # never silence
    assert _reasons(h, cid) == ["asked_for_person", "bot_unavailable"]


async def test_resolve_then_the_next_message_gets_a_normal_answer(
    stack: tuple[Harness, Console],
) -> None:
    h, console = stack
    conv, cid = await _handed_over(h)
    r = await console.post(f"/conversations/{cid}/resolve", outcome="answered")
    assert r.status_code == 303
    body = (await h.send(conv, "hello")).json()
    assert h.rasa.resumed == [cid]
    assert [m["text"] for m in body["replies"]] == [GREETING]
    assert body["status"] == "bot"
