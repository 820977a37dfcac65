"""Live events and outbox wake-ups that go out only when their transaction commits.

The service queues what it wants announced on the session (``announce``); a
listener on every Session publishes it after COMMIT and forgets it on ROLLBACK,
so nobody is ever told of a change that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_EVENTS = "frontdoor.events"
_WAKE = "frontdoor.outbox"
# Called with a conversation id once its new outbox rows are committed.
_wakers: list[Callable[[str], None]] = []


def announce(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Publish ``payload`` on the hub ``topic`` once ``session`` commits."""
    session.info.setdefault(_EVENTS, []).append((topic, payload))


def wake_outbox(session: Session, conversation_id: str) -> None:
    """Wake the delivery worker for ``conversation_id`` once ``session`` commits."""
    session.info.setdefault(_WAKE, set()).add(conversation_id)


def add_waker(waker: Callable[[str], None]) -> None:
    """Call ``waker(conversation_id)`` after each commit that wrote outbox rows."""
    _wakers.append(waker)


def remove_waker(waker: Callable[[str], None]) -> None:
    """Stop calling ``waker``."""
    if waker in _wakers:
        _wakers.remove(waker)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    events = session.info.pop(_EVENTS, [])
    woken = session.info.pop(_WAKE, set())
    if events:
        from bot.gateway import hub  # the in-process hub; no import cycle

        for topic, payload in events:
            try:
                hub.publish(topic, payload)
            except Exception:  # a committed change is never undone by its news
                logger.exception(
                    "could not publish %s",
                    payload.get("type"),
                    extra={"conversation_id": payload.get("conversation_id")},
                )
    for conversation_id in woken:
        for waker in list(_wakers):
            try:
                waker(conversation_id)
            except Exception:
                logger.exception(
                    "could not wake the delivery worker",
                    extra={"conversation_id": conversation_id},
                )


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_EVENTS, None)
    session.info.pop(_WAKE, None)
