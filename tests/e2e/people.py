"""Helpers for the safety-net tests: a person on either channel, an adviser using
the console over HTTP, and bounded waits on real state (never a guessed sleep)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    Message,
    MessageType,
    Outbox,
    OutboxState,
)
from bot.db.session import session_scope
from bot.domain.safety import URGENT_ACTIVITY_TEXT
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.e2e.conftest import ADVISER_PASSWORD, E2EStack

T = TypeVar("T")
WAIT_S = 30.0
# Matches the phrase floor.
FLOOR = "one of the girls at youth club just told me her stepdad hits her"
FLOOR_AGAIN = "he's outside now and he has a knife"
# A report_risk example of the NLU training data that no phrase matches: only the
# learned model can hear it.
MODEL_ONLY = "a man is hanging around the kids session taking photos and won't leave"
POLICY = "Can you send a template for our child protection policy?"
ASK_PERSON = "I'd like to talk to a person"
SENTINEL = "ok"
CHANNELS = ["web", "telegram"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------ the person


@dataclass
class Person:
    """Someone writing to one gateway on one channel."""

    stack: E2EStack
    channel: str
    gateway_url: str
    conversation_id: str | None = None
    token: str = ""
    chat: int = field(default_factory=lambda: 7_000_000 + secrets.randbelow(10**6))

    # -------------------------------------------------------------- talking

    def exchange(self, text: str, *, answered: bool = True) -> list[str]:
        """Send ``text``; return everything the person was told in answer.

        ``answered``: whether anything will be said back. On Telegram the webhook
        answers before the message is handled, so the end of its handling is
        waited for: its replies delivered, or (nothing said back, the advisers
        holding the conversation) its turn over.
        """
        if self.channel == "web":
            return [r["text"] for r in self._post_widget(text)["replies"]]
        if self.conversation_id is not None:
            # What an adviser's move told the person is sent first, so it is
            # not counted as an answer to this message.
            wait_for("earlier messages sent", self._outbox_settled)
        sent_before = len(self.stack.bot_api.sent_texts(self.chat))
        incoming = self._post_telegram(text)
        if answered:
            wait_for(
                f"a delivered answer to {text!r}", lambda: self._delivered(incoming)
            )
            until = None
        else:
            self._settle(incoming)
            until = None
        said = self._said(after=incoming, before=until)
        sent = self.stack.bot_api.sent_texts(self.chat)[sent_before:]
        # what was stored is what was sent, in order (bot messages queued for
        # a chat waiting for its pacing slot go as one)
        assert "\n\n".join(sent) == "\n\n".join(said), (sent, said)
        return said

    def _post_widget(self, text: str) -> dict[str, Any]:
        with httpx.Client(base_url=self.gateway_url, timeout=WAIT_S) as client:
            if self.conversation_id is None:
                started = client.post("/api/widget/conversations", json={}).json()
                self.conversation_id, self.token = (
                    started["conversation_id"],
                    started["token"],
                )
            response = client.post(
                f"/api/widget/conversations/{self.conversation_id}/messages",
                json={
                    "token": self.token,
                    "client_message_id": secrets.token_hex(8),
                    "text": text,
                },
            )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def _post_telegram(self, text: str) -> int:
        update = self.stack.bot_api.text_update(self.chat, text)
        response = httpx.post(
            self.gateway_url + WEBHOOK_PATH,
            json=update,
            headers={SECRET_HEADER: self.stack.telegram_secret},
            timeout=10,
        )
        assert response.status_code == 200
        source_id = f"update:{update['update_id']}"

        def stored() -> Message | None:
            with session_scope(self.stack.database_url) as s:
                found = s.scalars(
                    select(Message).where(
                        Message.channel == "telegram", Message.source_id == source_id
                    )
                ).first()
                if found is not None:
                    s.expunge(found)
                return found

        message = wait_for(f"{text!r} stored", stored)
        self.conversation_id = message.conversation_id
        return message.id

    def _outgoing(self, after: int, before: int | None = None) -> list[Message]:
        with session_scope(self.stack.database_url) as s:
            query = select(Message).where(
                Message.conversation_id == self.conversation_id,
                Message.message_type == MessageType.OUTGOING,
                Message.id > after,
            )
            if before is not None:
                query = query.where(Message.id < before)
            rows = list(s.scalars(query.order_by(Message.id)))
            s.expunge_all()
            return rows

    def _delivered(self, after: int) -> bool:
        # The turn is over (the message is marked answered as its last step) and
        # the outbox has delivered every reply it stored.
        with session_scope(self.stack.database_url) as s:
            message = s.get(Message, after)
            if message is None or message.answered_at is None:
                return False
        rows = self._outgoing(after)
        return bool(rows) and all(m.delivered_at is not None for m in rows)

    def _outbox_settled(self) -> bool:
        with session_scope(self.stack.database_url) as s:
            return not s.scalars(
                select(Outbox.id).where(
                    Outbox.conversation_id == self.conversation_id,
                    Outbox.state == OutboxState.PENDING,
                )
            ).first()

    def _said(self, after: int, before: int | None) -> list[str]:
        return [m.content for m in self._outgoing(after, before)]

    def _settle(self, incoming: int) -> None:
        """Wait until the turn of ``incoming`` is over (a message is marked
        answered as its turn's last step, whatever the turn said or did not).

        Not a second message after it: one sent while the first still waits for
        its turn is answered with it, as one burst."""

        def finished() -> bool:
            with session_scope(self.stack.database_url) as s:
                message = s.get(Message, incoming)
                return message is not None and message.answered_at is not None

        wait_for(f"the turn of message {incoming} finished", finished)

    # ------------------------------------------------------------- reading

    def conversation(self) -> Conversation:
        assert self.conversation_id is not None
        found = self.stack.conversation(self.conversation_id)
        assert found is not None
        return found

    def messages(self) -> list[Message]:
        assert self.conversation_id is not None
        return self.stack.messages(self.conversation_id)

    def handoffs(self) -> list[str]:
        with session_scope(self.stack.database_url) as s:
            return list(
                s.scalars(
                    select(Handoff.reason)
                    .where(Handoff.conversation_id == self.conversation_id)
                    .order_by(Handoff.id)
                )
            )

    def message(self, text: str) -> Message:
        found = [m for m in self.messages() if m.content == text]
        assert len(found) == 1, (text, [m.content for m in self.messages()])
        return found[-1]

    def assert_urgent(self, status: ConversationStatus) -> None:
        conversation = self.conversation()
        assert conversation.status is status
        assert conversation.urgent and conversation.urgent_since is not None
        activity = [
            m.content for m in self.messages() if m.message_type is MessageType.ACTIVITY
        ]
        assert activity.count(URGENT_ACTIVITY_TEXT) == 1, activity


# ----------------------------------------------------------------- the adviser


class Console:
    """One adviser using the console over HTTP, as a browser would post its forms."""

    def __init__(self, stack: E2EStack) -> None:
        self.stack = stack
        self.adviser = stack.create_adviser(display_name="Robin Safety")
        self.http = httpx.Client(base_url=stack.console_url, timeout=WAIT_S)
        page = self.http.get("/login")
        self._post("/login", page.text, username=self.adviser.username)

    def _post(self, path: str, page: str, **data: str) -> httpx.Response:
        found = CSRF.search(page)
        assert found, page[:500]
        body = {"csrf_token": found.group(1), **data}
        if "username" in data:
            body["password"] = ADVISER_PASSWORD
        response = self.http.post(
            path, data=body, headers={"Origin": self.stack.gateway_url}
        )
        assert response.status_code == 303, (path, response.text[:500])
        return response

    def _form(self, cid: str, action: str, **data: str) -> None:
        page = self.http.get(f"/conversations/{cid}").text
        self._post(f"/conversations/{cid}/{action}", page, **data)

    def claim(self, cid: str) -> None:
        self._form(cid, "claim")

    def reply(self, cid: str, text: str) -> None:
        """Reply, and wait until the outbox delivered it (Telegram: the Bot API
        accepted it), so it never lands inside the person's next exchange."""
        self._form(cid, "reply", text=text)

        def delivered() -> bool:
            with session_scope(self.stack.database_url) as s:
                states = s.scalars(
                    select(Outbox.state)
                    .join(Message, Message.id == Outbox.message_id)
                    .where(Message.conversation_id == cid, Message.content == text)
                ).all()
                return bool(states) and all(
                    state is OutboxState.DELIVERED for state in states
                )

        wait_for(f"the adviser's reply {text!r} delivered", delivered)

    def resolve(self, cid: str, outcome: str = "answered") -> None:
        """Resolve, and wait until what it said (the rating question, issue 15)
        went out, so it never lands inside the person's next exchange."""
        self._form(cid, "resolve", outcome=outcome)

        def sent() -> bool:
            with session_scope(self.stack.database_url) as s:
                waiting = s.scalars(
                    select(Outbox.id).where(
                        Outbox.conversation_id == cid,
                        Outbox.state == OutboxState.PENDING,
                    )
                ).first()
                return waiting is None

        if not self.stack.bot_api.down:  # (nothing goes out to a Bot API down)
            wait_for(f"what the resolve of {cid} said delivered", sent)

    def close(self) -> None:
        self.http.close()


def adviser_console(stack: E2EStack) -> Iterator[Console]:
    """Yield an adviser signed in to the console (for a module fixture)."""
    made = Console(stack)
    try:
        yield made
    finally:
        made.close()


def closing_people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    """Yield a list for the people a test makes, then close their conversations,
    so no test's urgent conversation sits in another's queue."""
    made: list[Person] = []
    yield made
    for person in made:
        if person.conversation_id is None:
            continue
        conversation = person.conversation()
        if conversation.status is ConversationStatus.QUEUED or (
            conversation.status is ConversationStatus.ASSIGNED
            and conversation.assignee_id == console.adviser.id
        ):
            console.resolve(person.conversation_id, "other")


def new_person(
    people: list[Person], stack: E2EStack, channel: str, gateway_url: str = ""
) -> Person:
    person = Person(stack, channel, gateway_url or stack.gateway_url)
    people.append(person)
    return person


def queued(person: Person) -> None:
    """Ask for a person: the conversation is queued, not urgent."""
    said = person.exchange(ASK_PERSON)
    assert any("human adviser" in t for t in said), said
    conversation = person.conversation()
    assert conversation.status is ConversationStatus.QUEUED
    assert not conversation.urgent
    assert person.handoffs() == ["asked_for_person"]
