"""Server-sent events: the queue and each conversation, fed by the gateway's hub."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from bot.console import live
from bot.console.auth import ConsoleSession, run_db
from bot.db.base import utcnow
from bot.db.repositories import access
from bot.db.repositories import advisers as repo
from bot.gateway import hub
from bot.gateway.channels.web import ReleasingStream

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
# Only these fields go to the browser; it re-fetches the rendered HTML anyway,
# so nothing a person typed ever travels in an event.
EVENT_FIELDS = ("type", "conversation_id", "status", "message_id", "urgent")


def _frame(event: dict[str, Any]) -> str:
    data = {k: event[k] for k in EVENT_FIELDS if k in event}
    message = event.get("message")
    if isinstance(message, dict) and "id" in message:
        data["message_id"] = message["id"]
    if "urgent" in data:
        data["urgent"] = data["urgent"] is True
    return f"event: update\ndata: {json.dumps(data)}\n\n"


async def _still_signed_in(session: ConsoleSession) -> bool:
    def check(db: Any) -> bool:
        loaded = repo.load_session(db, session_id=session.id, now=utcnow())
        return loaded is not None and loaded[1] is not None

    try:
        return await run_db(check)
    except Exception:
        log.exception("console: session check failed")
        return True  # the database blipped: keep the stream, check again later


class _ScopeFilter:
    """Passes on only events about conversations the adviser may see (the queue
    topic carries every conversation's); answers kept for a few seconds."""

    TTL_S = 10.0

    def __init__(self, scope: access.Scope | None) -> None:
        self.scope = scope
        self.seen: dict[str, tuple[float, bool]] = {}

    async def allows(self, event: dict[str, Any]) -> bool:
        scope = self.scope
        if scope is None or scope.everything:
            return scope is not None
        conversation_id = event.get("conversation_id")
        if not isinstance(conversation_id, str):
            return False
        now = time.monotonic()
        cached = self.seen.get(conversation_id)
        if cached is not None and now - cached[0] < self.TTL_S:
            return cached[1]
        allowed = await run_db(lambda db: access.can_see(db, scope, conversation_id))
        if len(self.seen) > 1000:
            self.seen.clear()
        self.seen[conversation_id] = (now, allowed)
        return allowed


async def _stream(
    subscription: hub.Subscription, session: ConsoleSession, heartbeat_s: float
) -> AsyncIterator[str]:
    scoped = _ScopeFilter(session.scope)
    try:
        yield "retry: 3000\n\n"
        while True:
            event = await subscription.get(timeout=heartbeat_s)
            if event is None:
                if subscription.closed or not await _still_signed_in(session):
                    return  # signed out: the browser stops and shows a notice
                yield ": keep-alive\n\n"
                continue
            if await scoped.allows(event):
                yield _frame(event)
    finally:
        subscription.close()


def event_stream(request: Request, topic: str) -> ReleasingStream:
    """Return a text/event-stream response of ``topic``'s events."""
    session: ConsoleSession = request.state.console_session
    # Subscribed before the response starts, so nothing falls in between the
    # page the browser has and the first event; released however it ends.
    subscription = live.subscribe(topic)
    return ReleasingStream(
        _stream(subscription, session, HEARTBEAT_S),
        subscription.close,
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
