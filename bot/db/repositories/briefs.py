"""The hand-over brief an adviser reads first: the person's own words, what the
bot understood and what it already gave, built from the stored messages."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Message, MessageType, Organisation, OrganisationArea

# What the person says that is not their enquiry: greetings, yes/no, a place
# given when asked, a request for a person. Quoted only when nothing else is.
NOT_THE_QUESTION = frozenset(
    {
        "greet",
        "goodbye",
        "thanks",
        "affirm",
        "deny",
        "bot_challenge",
        "what_can_you_do",
        "inform_location",
        "skip_location",
        "request_human",
    }
)
LONG_ENOUGH = 80  # characters: a message this long is quoted whatever its intent
QUOTE_CHARS = 280  # on the card and the brief; the transcript has the full text
MAX_QUOTES = 3
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class Quote:
    """One of the person's messages, as quoted in the brief."""

    message_id: int
    text: str  # at most QUOTE_CHARS (plus an ellipsis)
    length: int  # of the full text

    @property
    def truncated(self) -> bool:
        return self.length > len(self.text.rstrip("…"))

    @property
    def hidden(self) -> int:
        """How many characters the quote leaves out."""
        return self.length - len(self.text.rstrip("…"))


@dataclass(frozen=True)
class Brief:
    """What the adviser needs before picking a conversation up."""

    questions: list[Quote] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)  # buttons, by their titles
    links: list[str] = field(default_factory=list)  # sent by the bot
    messages_from_person: int = 0


def pressed_title(text: str, offered: list[dict[str, str]] | None) -> str | None:
    """Return what the person pressed if ``text`` is a button (payload or title)."""
    for button in offered or []:
        title = str(button.get("title", ""))
        if text and text in (str(button.get("payload", "")), title):
            return title or None
    if text.startswith("/"):
        # a payload with no button shown before it: say it in words
        name = re.split(r"[{\[(]", text[1:], maxsplit=1)[0]
        return "a button (" + name.replace("_", " ").strip() + ")"
    return None


def quote(message: Said | Message) -> Quote:
    """Return ``message`` quoted, cut at QUOTE_CHARS on a word boundary."""
    text = message.content.strip()
    if len(text) <= QUOTE_CHARS:
        return Quote(message.id, text, len(text))
    cut = text[:QUOTE_CHARS]
    space = cut.rfind(" ")
    if space > QUOTE_CHARS * 0.6:
        cut = cut[:space]
    return Quote(message.id, cut.rstrip() + "…", len(text))


def links_in(text: str) -> list[str]:
    """Return the web addresses in ``text`` (the bot's own messages)."""
    found = []
    for match in _URL.findall(text):
        url = match
        while url and url[-1] in _TRAILING:
            # a closing bracket belongs to the link when it opened inside it
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if url:
            found.append(url)
    return found


@dataclass(frozen=True)
class Said:
    """What the brief reads of a message (a row, not an ORM object: cheap)."""

    id: int
    message_type: MessageType
    sender: str
    content: str
    buttons: list[dict[str, str]] | None
    intent: str | None


def build(messages: list[Said] | list[Message]) -> Brief:
    """Return the brief of one conversation from its messages, oldest first."""
    offered: list[dict[str, str]] | None = None
    typed: list[tuple[Said | Message, bool]] = []
    pressed: list[str] = []
    links: list[str] = []
    for m in messages:
        if m.message_type is MessageType.OUTGOING:
            offered = m.buttons
            if m.sender == "bot":
                links.extend(u for u in links_in(m.content) if u not in links)
        elif m.message_type is MessageType.INCOMING:
            title = pressed_title(m.content.strip(), offered)
            if title is not None:
                if title not in pressed:
                    pressed.append(title)
                continue
            substantive = (
                m.intent not in NOT_THE_QUESTION or len(m.content) >= LONG_ENOUGH
            )
            typed.append((m, substantive))
    chosen = [m for m, substantive in typed if substantive][-MAX_QUOTES:]
    if not chosen and typed:
        chosen = [typed[-1][0]]
    return Brief(
        questions=[quote(m) for m in chosen],
        pressed=pressed,
        links=links,
        messages_from_person=len(typed) + len(pressed),
    )


def briefs(session: Session, *, conversation_ids: list[str]) -> dict[str, Brief]:
    """Return the brief of each conversation (one query for all of them)."""
    if not conversation_ids:
        return {}
    by_conversation: dict[str, list[Said]] = defaultdict(list)
    rows = session.execute(
        select(
            Message.conversation_id,
            Message.id,
            Message.message_type,
            Message.sender,
            Message.content,
            Message.buttons,
            Message.intent,
        )
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.message_type.in_([MessageType.INCOMING, MessageType.OUTGOING]),
        )
        .order_by(Message.id)
    ).tuples()
    for cid, mid, kind, sender, content, buttons, intent in rows:
        by_conversation[cid].append(Said(mid, kind, sender, content, buttons, intent))
    return {cid: build(by_conversation.get(cid, [])) for cid in conversation_ids}


def local_organisations(
    session: Session, *, lad_codes: set[str]
) -> dict[str, list[tuple[str, str]]]:
    """Return the local (not national) organisations covering each district."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not lad_codes:
        return found
    rows = session.execute(
        select(OrganisationArea.lad_code, Organisation.id, Organisation.name)
        .join(Organisation, Organisation.id == OrganisationArea.organisation_id)
        .where(
            OrganisationArea.lad_code.in_(lad_codes),
            Organisation.is_national.is_(False),
            Organisation.active.is_(True),
        )
        .order_by(Organisation.name)
    ).tuples()
    for lad, oid, name in rows:
        found[lad].append((oid, name))
    return found
