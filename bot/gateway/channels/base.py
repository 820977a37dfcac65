"""The one small protocol every channel implements: receive, store, route, deliver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Incoming:
    """A person's message as a channel received it.

    ``source_id`` is the channel's own id for it (unique per channel), so a repeated
    delivery is dropped. ``rasa_text`` is what the bot is sent when it differs from
    what is stored and shown (a quick reply's payload rather than its title).
    """

    channel: str
    source_id: str
    text: str
    rasa_text: str | None = None
    conversation_id: str | None = None
    channel_user_id: str | None = None

    @property
    def lock_key(self) -> str:
        """Return the key that serialises this person's messages."""
        return lock_key(self.channel, self.conversation_id, self.channel_user_id)


@dataclass(frozen=True)
class ConversationRef:
    """Enough of a conversation to deliver to it."""

    id: str
    channel: str
    channel_user_id: str | None
    status: str

    @property
    def lock_key(self) -> str:
        return lock_key(self.channel, self.id, self.channel_user_id)


def lock_key(
    channel: str, conversation_id: str | None, channel_user_id: str | None
) -> str:
    """Return the lock key: the chat for chat apps, else the conversation."""
    if channel_user_id is not None and channel != "web":
        return f"{channel}:{channel_user_id}"
    if conversation_id is None:
        raise ValueError("a web message needs its conversation id")
    return conversation_id


class Channel(Protocol):
    """What the pipeline needs from a channel to reach the person."""

    name: str

    async def deliver(
        self, conversation: ConversationRef, messages: list[dict[str, Any]]
    ) -> list[int]:
        """Send stored outgoing ``messages`` (views) in order; return ids delivered."""
        ...
