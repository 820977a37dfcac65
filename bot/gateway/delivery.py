"""Delivering adviser (and other out-of-turn) messages to the person's channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.gateway.pipeline import Pipeline

_pipeline: Pipeline | None = None


def set_pipeline(pipeline: Pipeline | None) -> None:
    """Route deliveries through ``pipeline`` (the running gateway sets this)."""
    global _pipeline
    _pipeline = pipeline


def get_pipeline() -> Pipeline:
    """Return the running gateway's pipeline."""
    if _pipeline is None:
        raise RuntimeError("the gateway is not running in this process")
    return _pipeline


async def deliver_to_person(
    conversation_id: str,
    *,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    sender: str = "adviser",
    adviser_id: int | None = None,
) -> None:
    """Store an outgoing message and push it live to the person's channel.

    The widget gets it over server-sent events, Telegram by sendMessage; the
    console sees it on ``conversation:<id>``. Raises LookupError for an unknown
    conversation.
    """
    await get_pipeline().send_to_person(
        conversation_id,
        text=text,
        buttons=buttons,
        sender=sender,
        adviser_id=adviser_id,
    )
