"""Replies by email: the adviser answers from the console, the outbox sends it
over SMTP to a real server on loopback (aiosmtpd), a failed send is retried and
shown, and the reply stays in the transcript."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from bot.console import auth
from bot.db.models import Conversation, Message, MessageType, Outbox, OutboxState
from bot.db.session import session_scope
from bot.gateway.app import create_app
from bot.i18n import text
from bot.runner import free_port
from bot.settings import get_settings
from tests.console.conftest import make_adviser, make_conversation
from tests.support.servers import serve

pytestmark = pytest.mark.integration

FROM = "advisers@frontdoor.example.org"
PERSON = "jo.treasurer@example.org"
REFUSED = "nobody@example.org"


@dataclass
class Mailbox:
    """What the SMTP server received (envelope and parsed message)."""

    received: list[tuple[str, list[str], email.message.EmailMessage]] = field(
        default_factory=list
    )

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd on a fixed loopback port, stopped and started again at will."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        # a stopped Controller cannot start again: a new one on the same port
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mailbox, SmtpServer]]:
    """A real SMTP server on loopback, and the settings pointing at it."""
    server = SmtpServer()
    server.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(server.port))
    monkeypatch.setenv("SMTP_FROM", FROM)
    monkeypatch.setenv("SMTP_TIMEOUT_S", "5")
    get_settings.cache_clear()
    try:
        yield server.mailbox, server
    finally:
        server.stop()
        get_settings.cache_clear()


@dataclass
class Console:
    client: httpx.AsyncClient
    csrf: str
    base: str

    async def post(
        self, path: str, data: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            path,
            data={"csrf_token": self.csrf, **(data or {})},
            headers={"Origin": self.base},
        )


@pytest.fixture
async def console(
    db_url: str, directory: dict[str, str], smtp: tuple[Mailbox, SmtpServer]
) -> AsyncIterator[Console]:
    """The whole gateway (its delivery worker running) and a signed-in adviser."""
    adviser_id = make_adviser(db_url)
    with session_scope(db_url) as s:
        session = auth.new_session(s, adviser_id=adviser_id, ttl=auth.IDLE_TTL)
    assert session.token
    async with (
        serve(create_app()) as base,
        httpx.AsyncClient(
            base_url=base, cookies={auth.COOKIE_NAME: session.token}
        ) as c,
    ):
        yield Console(c, session.csrf_token, base)


def _with_email(db_url: str, address: str) -> str:
    cid = make_conversation(db_url)
    with session_scope(db_url) as s:
        s.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(contact_email=address)
        )
    return cid


def _email_rows(db_url: str, cid: str) -> list[tuple[Message, Outbox]]:
    with session_scope(db_url) as s:
        rows = s.execute(
            select(Message, Outbox)
            .join(Outbox, Outbox.message_id == Message.id)
            .where(Message.conversation_id == cid, Message.channel == "email")
            .order_by(Message.id)
        ).all()
        for m, o in rows:
            s.expunge(m)
            s.expunge(o)
        return [(m, o) for m, o in rows]


async def _until(check: Any, timeout_s: float = 30.0) -> None:
    """Poll ``check()`` until it is true (a deadline, never a guessed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_email_reply_is_sent_over_smtp_and_kept_in_the_transcript(
    console: Console, db_url: str, smtp: tuple[Mailbox, SmtpServer]
) -> None:
    mailbox, _ = smtp
    cid = _with_email(db_url, PERSON)
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert PERSON in page and "Reply by email" not in page  # pick it up first
    await console.post(f"/console/conversations/{cid}/claim")
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert f"Email to {PERSON}" in page
    body = (
        "Hello Jo,\nthe minibus grant opens in March; the form is attached to our site."
    )
    response = await console.post(f"/console/conversations/{cid}/email", {"text": body})
    assert response.status_code == 303
    assert response.headers["location"].endswith("notice=emailed")
    await _until(lambda: len(mailbox.received) == 1)
    mail_from, rcpt_tos, message = mailbox.received[0]
    assert (mail_from, rcpt_tos) == (FROM, [PERSON])
    assert message["To"] == PERSON and message["From"] == FROM
    assert message["Subject"] == text("console_email.subject", "en")
    content = message.get_content().replace("\r\n", "\n")  # SMTP's line ends
    assert content.startswith(body)
    assert text("console_email.footer", "en") in content
    await _until(lambda: _email_rows(db_url, cid)[0][1].state is OutboxState.DELIVERED)
    [(stored, outbox)] = _email_rows(db_url, cid)
    assert stored.message_type is MessageType.OUTGOING and stored.sender == "adviser"
    assert stored.content == body and outbox.channel == "email"
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert "· by email" in page and 'data-delivery="delivered"' in page


async def test_failed_email_is_retried_until_the_server_is_back(
    console: Console, db_url: str, smtp: tuple[Mailbox, SmtpServer]
) -> None:
    mailbox, server = smtp
    cid = _with_email(db_url, PERSON)
    await console.post(f"/console/conversations/{cid}/claim")
    server.stop()  # the mail server is down
    await console.post(
        f"/console/conversations/{cid}/email", {"text": "Are you there?"}
    )
    await _until(lambda: _email_rows(db_url, cid)[0][1].attempts >= 1)
    [(_, outbox)] = _email_rows(db_url, cid)
    assert outbox.state is OutboxState.PENDING
    assert outbox.last_error and "SMTP not reachable" in outbox.last_error
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert 'data-delivery="pending"' in page and "Sending…" in page
    server.start()  # back on the same port: the next attempt goes through
    await _until(lambda: len(mailbox.received) == 1)
    await _until(lambda: _email_rows(db_url, cid)[0][1].state is OutboxState.DELIVERED)
    assert mailbox.received[0][2].get_content().startswith("Are you there?")
    [(_, outbox)] = _email_rows(db_url, cid)
    assert outbox.attempts >= 1  # it failed before it went


async def test_refused_address_fails_for_good_and_is_shown(
    console: Console, db_url: str, smtp: tuple[Mailbox, SmtpServer]
) -> None:
    mailbox, _ = smtp
    cid = _with_email(db_url, REFUSED)
    await console.post(f"/console/conversations/{cid}/claim")
    await console.post(f"/console/conversations/{cid}/email", {"text": "Hello"})
    await _until(lambda: _email_rows(db_url, cid)[0][1].state is OutboxState.FAILED)
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert 'data-delivery="failed"' in page and "Not delivered" in page
    assert "Send again" in page
    assert mailbox.received == []


async def test_email_needs_an_address_and_the_conversation(
    console: Console, db_url: str
) -> None:
    cid = make_conversation(db_url)  # no address left
    await console.post(f"/console/conversations/{cid}/claim")
    page = (await console.client.get(f"/console/conversations/{cid}")).text
    assert "Reply by email" not in page
    refused = await console.post(f"/console/conversations/{cid}/email", {"text": "Hi"})
    assert refused.status_code == 409
    empty = await console.post(f"/console/conversations/{cid}/email", {"text": ""})
    assert empty.status_code == 400
    other = _with_email(db_url, PERSON)  # not picked up
    assert (
        await console.post(f"/console/conversations/{other}/email", {"text": "Hi"})
    ).status_code == 409
    assert _email_rows(db_url, cid) == [] and _email_rows(db_url, other) == []
