"""The events the gateway publishes on the hub, and how a message is shown."""

from __future__ import annotations

from typing import Any

from bot.db.models import Message


def message_view(message: Message) -> dict[str, Any]:
    """Return the JSON-able view of a stored message."""
    return {
        "id": message.id,
        "message_type": message.message_type.value,
        "sender": message.sender,
        "text": message.content,
        "buttons": list(message.buttons or []),
        "created_at": message.created_at.isoformat(),
        "adviser_id": message.adviser_id,
        "urgent": bool(message.urgent),
    }


def message_event(conversation_id: str, view: dict[str, Any]) -> dict[str, Any]:
    """Return a ``message`` event."""
    return {"type": "message", "conversation_id": conversation_id, "message": view}


def typing_event(conversation_id: str, active: bool) -> dict[str, Any]:
    """Return a ``typing`` event (the bot is working on an answer)."""
    return {"type": "typing", "conversation_id": conversation_id, "active": active}


def status_event(
    conversation_id: str,
    status: str,
    *,
    handoff_id: int | None = None,
    reason: str | None = None,
    urgent: bool = False,
    message_id: int | None = None,
) -> dict[str, Any]:
    """Return a ``status`` event (the conversation changed hands or became urgent).

    An urgent event carries ``urgent: true`` and the id of the person's message
    that made it urgent, so the console can alert advisers and re-show it.
    """
    event: dict[str, Any] = {
        "type": "status",
        "conversation_id": conversation_id,
        "status": status,
    }
    if handoff_id is not None:
        event["handoff_id"] = handoff_id
        event["reason"] = reason
    if urgent:
        event["urgent"] = True
        if message_id is not None:
            event["message_id"] = message_id
    return event
