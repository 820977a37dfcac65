"""The one small protocol every channel implements: receive, store, route, deliver."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.requests import Request

# C0 controls other than tab, newline and carriage return, and DEL: PostgreSQL
# cannot store NUL in text, and none of them means anything in a chat message.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Return ``text`` fit to store: control characters dropped, lone surrogates
    (not valid Unicode text) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


async def read_body(request: Request, limit: int) -> bytes | None:
    """Return the request's body, or None as soon as it passes ``limit`` bytes
    (so a huge body is never held in memory whole)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any] | None:
    """Return the JSON object in ``body``, or None if it is not one.

    Refuses what ``json`` cannot read safely as well: invalid UTF-8, and
    nesting deep enough to exhaust the parser's recursion.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Incoming:
    """A person's message as a channel received it.

    ``source_id`` is the channel's own id for it (unique per channel), so a repeated
    delivery is stored once (and answered again only if its turn never finished).
    ``rasa_text`` is what the bot is sent when it differs from what is stored and
    shown (a quick reply's payload rather than its title).
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
    bot_paused: bool = False  # Rasa still holds a hand-over's pause
    language: str = "en"  # the conversation's language (bot.language)

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


class DeliveryError(Exception):
    """A channel could not send a message.

    ``retry_after`` is how long the channel asked us to wait (Telegram's 429);
    ``permanent`` means trying again will not help (the chat is gone).
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after, self.permanent = retry_after, permanent


@dataclass(frozen=True)
class SendProgress:
    """How far an earlier attempt got with one outgoing message, and how to
    record each part the channel accepts (the delivery worker writes it)."""

    parts_sent: int = 0
    record: Callable[[int], Awaitable[None]] | None = None

    async def sent(self, parts: int) -> None:
        """Record that the first ``parts`` parts were accepted."""
        if self.record is not None:
            await self.record(parts)


class Channel(Protocol):
    """What the delivery worker needs from a channel to reach the person."""

    name: str

    @property
    def ready(self) -> bool:
        """False while the channel is still starting: the worker waits."""
        ...

    async def send(
        self,
        conversation: ConversationRef,
        view: dict[str, Any],
        progress: SendProgress | None = None,
    ) -> None:
        """Send one stored outgoing message (its view); raise DeliveryError.

        A channel that sends a message in parts skips ``progress.parts_sent``
        and reports each part it sends, so a retry never repeats one.
        """
        ...
