"""50 advisers claim one hand-over at once: exactly one wins, the others get 409."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from bot.console import auth
from bot.conversations import service
from bot.db.models import (
    Adviser,
    Conversation,
    ConversationStatus,
    Message,
    MessageType,
)
from bot.db.session import get_sessionmaker, session_scope
from tests.console.conftest import BASE, make_adviser, make_conversation

pytestmark = pytest.mark.integration

N = 50


def _advisers(db_url: str) -> list[int]:
    return [
        make_adviser(db_url, f"adviser{i:02d}", name=f"Adviser {i}") for i in range(N)
    ]


def _winner_and_activity(db_url: str, cid: str) -> tuple[Conversation, int]:
    with session_scope(db_url) as s:
        conv = s.get(Conversation, cid)
        assert conv is not None
        lines = s.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.conversation_id == cid,
                Message.message_type == MessageType.ACTIVITY,
            )
        )
        return conv, lines or 0


def test_50_threads_claim_through_the_repository(db_url: str) -> None:
    ids = _advisers(db_url)
    cid = make_conversation(db_url, organisation_id=None, lad_code=None)
    barrier = threading.Barrier(N)
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    with session_scope(db_url) as s:
        advisers = {a.id: a for a in s.scalars(select(Adviser))}

    def claim(adviser_id: int) -> None:
        try:
            # wait before taking a pooled connection, so the pool cannot deadlock
            barrier.wait(timeout=30)
            with get_sessionmaker(db_url)() as session:
                adviser = advisers[adviser_id]
                try:
                    service.claim(session, conversation_id=cid, adviser=adviser)
                    session.commit()
                    results[adviser_id] = True
                except service.Conflict:
                    results[adviser_id] = False
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    winners = [i for i, won in results.items() if won]
    assert len(results) == N and len(winners) == 1
    conv, activity = _winner_and_activity(db_url, cid)
    assert conv.status is ConversationStatus.ASSIGNED
    assert conv.assignee_id == winners[0]
    assert activity == 1


async def test_50_advisers_claim_over_http_at_once(app: Starlette, db_url: str) -> None:
    ids = _advisers(db_url)
    cid = make_conversation(db_url, organisation_id=None, lad_code=None)
    clients: list[tuple[int, httpx.AsyncClient, str]] = []
    for adviser_id in ids:
        with session_scope(db_url) as s:
            session = auth.new_session(s, adviser_id=adviser_id, ttl=auth.IDLE_TTL)
        assert session.token
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE,
            cookies={auth.COOKIE_NAME: session.token},
        )
        clients.append((adviser_id, client, session.csrf_token))
    try:
        responses = await asyncio.gather(
            *(
                c.post(
                    f"/console/conversations/{cid}/claim",
                    data={"csrf_token": token},
                    headers={"Origin": BASE},
                )
                for _, c, token in clients
            )
        )
    finally:
        for _, c, _ in clients:
            await c.aclose()
    codes = sorted(r.status_code for r in responses)
    assert codes == [303] + [409] * (N - 1)
    winner = ids[[r.status_code for r in responses].index(303)]
    conv, activity = _winner_and_activity(db_url, cid)
    assert conv.status is ConversationStatus.ASSIGNED
    assert conv.assignee_id == winner
    assert activity == 1
