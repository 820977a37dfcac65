"""Server-sent events from the hub, over a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bot.console import auth, events
from bot.db.session import session_scope
from bot.gateway import hub
from bot.gateway.events import message_event, status_event
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def server(app: Starlette) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


async def _signed_in(server: str, db_url: str) -> tuple[httpx.AsyncClient, str]:
    from tests.console.conftest import make_adviser

    adviser_id = make_adviser(db_url)
    with session_scope(db_url) as s:
        session = auth.new_session(s, adviser_id=adviser_id, ttl=auth.IDLE_TTL)
    assert session.token
    client = httpx.AsyncClient(base_url=server, timeout=10)
    client.cookies.set(auth.COOKIE_NAME, session.token)
    return client, session.csrf_token


async def _frames(response: httpx.Response) -> AsyncIterator[str]:
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            yield frame


async def test_queue_stream_passes_on_hub_events_without_text(
    server: str, db_url: str
) -> None:
    client, _ = await _signed_in(server, db_url)
    async with client, client.stream("GET", "/console/events/queue") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "default-src 'self'" in response.headers["content-security-policy"]
        frames = _frames(response)
        assert (await anext(frames)).startswith("retry:")
        for _ in range(100):  # the subscription is made before the first byte
            if hub.get_hub().subscriber_count(hub.QUEUE_TOPIC):
                break
            await asyncio.sleep(0.01)
        hub.publish(
            hub.QUEUE_TOPIC, status_event("c1", "queued", handoff_id=3, reason="risk")
        )
        hub.publish(
            hub.QUEUE_TOPIC,
            message_event(
                "c1", {"id": 7, "message_type": "incoming", "text": "SECRET"}
            ),
        )
        first = await asyncio.wait_for(anext(frames), 5)
        second = await asyncio.wait_for(anext(frames), 5)
    assert first.splitlines()[0] == "event: update"
    assert json.loads(first.splitlines()[1].removeprefix("data: ")) == {
        "type": "status",
        "conversation_id": "c1",
        "status": "queued",
    }
    assert "SECRET" not in second
    assert json.loads(second.splitlines()[1].removeprefix("data: ")) == {
        "type": "message",
        "conversation_id": "c1",
        "message_id": 7,
    }


async def test_stream_ends_when_the_adviser_signs_out(
    server: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.console.conftest import make_conversation

    monkeypatch.setattr(events, "HEARTBEAT_S", 0.2)
    client, csrf = await _signed_in(server, db_url)
    cid = make_conversation(db_url)  # (a missing one is a 404, as any other's)
    async with client:
        async with client.stream(
            "GET", f"/console/conversations/{cid}/events"
        ) as response:
            frames = _frames(response)
            assert (await anext(frames)).startswith("retry:")
            assert (await asyncio.wait_for(anext(frames), 5)) == ": keep-alive"
            other = httpx.AsyncClient(base_url=server, cookies=client.cookies)
            async with other:
                r = await other.post(
                    "/console/logout",
                    data={"csrf_token": csrf},
                    headers={"Origin": server},
                )
                assert r.status_code == 303
            rest = [f async for f in frames]  # the server closes the stream
            assert all(f == ": keep-alive" for f in rest)
    assert hub.get_hub().subscriber_count(hub.conversation_topic(cid)) == 0


async def test_stream_needs_login(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        r = await client.get("/console/events/queue")
        assert r.status_code == 401
