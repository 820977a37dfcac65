"""The console's links to the gateway: live events, replies to the person, the bot.

Thin wrappers over ``bot.gateway.hub``, ``bot.gateway.delivery`` and
``bot.gateway.rasa_client``, so the console has one place that knows their
names, and a hub failure never undoes an adviser's committed change.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.gateway import delivery, hub, rasa_client

log = logging.getLogger(__name__)

QUEUE_TOPIC = hub.QUEUE_TOPIC
conversation_topic = hub.conversation_topic


def publish(topic: str, event: dict[str, Any]) -> None:
    """Publish ``event`` on ``topic``; a failure is logged, never raised.

    The change it announces is already committed, and browsers re-read the
    database when they reconnect.
    """
    try:
        hub.publish(topic, event)
    except Exception:
        log.exception(
            "console: could not publish %s",
            event.get("type"),
            extra={"conversation_id": event.get("conversation_id")},
        )


def subscribe(topic: str) -> hub.Subscription:
    """Start receiving ``topic``'s events now; close the subscription when done."""
    return hub.subscribe(topic)


async def deliver_reply(conversation_id: str, *, text: str, adviser_id: int) -> None:
    """Send an adviser's reply to the person's channel (the gateway stores it)."""
    await delivery.deliver_to_person(
        conversation_id, text=text, sender="adviser", adviser_id=adviser_id
    )


async def resume_bot(conversation_id: str) -> None:
    """Tell the bot it holds the conversation again (raises if Rasa is down)."""
    await rasa_client.resume(conversation_id)
