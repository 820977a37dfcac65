"""The console's links to the gateway: live events and the bot.

Thin wrappers over ``bot.gateway.hub`` and ``bot.gateway.rasa_client``, so the
console has one place that knows their names, and a hub failure never undoes an
adviser's committed change. Replies go through the conversation service and
the outbox (``bot.conversations.service.send``).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.gateway import hub, rasa_client

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


async def resume_bot(conversation_id: str) -> None:
    """Tell the bot it holds the conversation again (raises if Rasa is down)."""
    await rasa_client.resume(conversation_id)
