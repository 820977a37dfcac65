"""What people type is always shown as text, end to end.

The script-injection corpus (tests/console/xss_payloads.txt) is sent through
both real channels — the widget's HTTP API and the Telegram webhook — into real
Rasa and the gateway, each conversation then asks for a person, and an adviser
opens the queue and both transcripts in a real browser. Nothing may run: no
dialog, the ``window.__xss`` sentinel unchanged, no CSP violation, no request
off the console on 127.0.0.1; and every payload shows literally, as stored.
(tests/console/test_browser.py covers the same corpus seeded into the database.)
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from bot.db.models import Conversation, ConversationStatus, MessageType
from bot.db.session import session_scope
from bot.gateway.channels import telegram, web
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.e2e.conftest import ADVISER_PASSWORD, CHROMIUM, CHROMIUM_ARGS, E2EStack

pytestmark = [
    pytest.mark.e2e,
]

CORPUS = Path(__file__).parents[1] / "console" / "xss_payloads.txt"
PAYLOADS = [line for line in CORPUS.read_text().splitlines() if line]
ASK_PERSON = "I'd like to talk to a person"

# Runs before any page script: the flag payloads try to flip, and a record of
# every CSP violation the page reports (as in tests/console/test_browser.py).
WATCH = """
window.__xss = 0;
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Watch:
    """What the console did that it should not: dialogs, CSP, foreign requests."""

    console_url: str
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    off_host: list[str] = field(default_factory=list)

    def on_request(self, url: str) -> None:
        if urlsplit(url).hostname != "127.0.0.1":
            self.off_host.append(url)
        if not url.startswith(self.console_url + "/"):
            self.foreign.append(url)

    def assert_clean(self, page: Page) -> None:
        assert self.dialogs == []
        assert page.evaluate("window.__xss") == 0
        assert page.evaluate("window.__csp") == []
        assert [m for m in self.console if "Content Security Policy" in m] == []
        assert self.off_host == []
        assert self.foreign == []


def as_stored_widget(text: str) -> str:
    return text.strip()  # web.py stores text.strip() (and refuses > MAX_TEXT)


def as_stored_telegram(text: str) -> str:
    return text[: telegram.MAX_TEXT]  # telegram.py stores message.text[:MAX_TEXT]


def person_texts(stack: E2EStack, cid: str) -> list[str]:
    return [
        m.content
        for m in stack.messages(cid)
        if m.message_type is MessageType.INCOMING and m.sender == "person"
    ]


def send_through_widget(stack: E2EStack, texts: list[str]) -> str:
    assert all(len(t) <= web.MAX_TEXT for t in texts)
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        started = client.post("/api/widget/conversations", json={})
        assert started.status_code == 201, started.text
        conv = started.json()
        cid = conv["conversation_id"]
        for text in texts:
            response = client.post(
                f"/api/widget/conversations/{cid}/messages",
                json={
                    "token": conv["token"],
                    "client_message_id": secrets.token_hex(8),
                    "text": text,
                },
            )
            assert response.status_code == 200, (text, response.text)
            assert response.json()["message"]["text"] == as_stored_widget(text)
    return cid


def send_through_telegram(stack: E2EStack, chat: int, texts: list[str]) -> str:
    """Post each update and wait until it is stored, so the order is kept
    (PTB handles updates concurrently)."""
    api = stack.bot_api
    cid: str | None = None
    with httpx.Client(timeout=10) as client:
        for n, text in enumerate(texts, start=1):
            if n == len(texts) and cid is not None:
                # the request for a person is its own turn, not joined to the
                # burst before it (a burst is answered as one turn)
                deadline = time.monotonic() + 60
                while not all(
                    m.answered_at is not None
                    for m in stack.messages(cid)
                    if m.message_type is MessageType.INCOMING
                ):
                    assert time.monotonic() < deadline, "the burst never answered"
                    time.sleep(0.05)
            response = client.post(
                stack.gateway_url + WEBHOOK_PATH,
                json=api.text_update(chat, text),
                headers={SECRET_HEADER: stack.telegram_secret},
            )
            assert response.status_code == 200, response.text
            deadline = time.monotonic() + 20
            while True:
                if cid is None:
                    with session_scope(stack.database_url) as session:
                        cid = session.scalar(
                            select(Conversation.id).where(
                                Conversation.channel == "telegram",
                                Conversation.channel_user_id == str(chat),
                            )
                        )
                if cid is not None and len(person_texts(stack, cid)) >= n:
                    break
                assert time.monotonic() < deadline, (
                    f"update {n} ({text!r}) not stored\n" + stack.log("gateway")
                )
                time.sleep(0.02)
    assert cid is not None
    return cid


def wait_until_queued(stack: E2EStack, cid: str) -> None:
    """Wait for the hand-over and the bot's reply to it: the action server queues
    the conversation inside the turn, before the gateway stores what Rasa said."""
    deadline = time.monotonic() + 20
    while True:
        conv = stack.conversation(cid)
        assert conv is not None
        bot = [m.content for m in stack.messages(cid) if m.sender == "bot"]
        if (
            conv.status is ConversationStatus.QUEUED
            and bot[-1:]
            and bot[-1].startswith("I'm passing you to a human adviser now.")
        ):
            return
        assert time.monotonic() < deadline, (cid, conv.status, bot[-1:])
        time.sleep(0.05)


def test_xss_corpus_through_both_channels_is_shown_as_text(stack: E2EStack) -> None:
    assert len(PAYLOADS) >= 50
    texts = [*PAYLOADS, ASK_PERSON]

    # (1) widget and (2) Telegram, through real Rasa, each ending with a person.
    web_cid = send_through_widget(stack, texts)
    chat = 7_000_000 + secrets.randbelow(1_000_000)
    tg_cid = send_through_telegram(stack, chat, texts)
    wait_until_queued(stack, web_cid)
    wait_until_queued(stack, tg_cid)

    expected = {
        web_cid: [as_stored_widget(t) for t in texts],
        tg_cid: [as_stored_telegram(t) for t in texts],
    }
    # stored as typed (the corpus has nothing to trim or cut, so this is literal)
    for cid, want in expected.items():
        assert person_texts(stack, cid) == want
    assert expected[web_cid] == expected[tg_cid] == texts
    # every payload reached Rasa (its turn was answered) before the hand-over:
    # the widget's one by one, Telegram's fast burst joined into fewer turns
    for cid in expected:
        messages = stack.messages(cid)
        incoming = [m for m in messages if m.message_type is MessageType.INCOMING]
        assert all(m.answered_at is not None for m in incoming)
        bot = [m.content for m in messages if m.sender == "bot"]
        assert bot[-1].startswith("I'm passing you to a human adviser now.")
    web_bot = [m for m in stack.messages(web_cid) if m.sender == "bot"]
    assert len(web_bot) >= len(PAYLOADS)

    # (3) an adviser opens the queue and both transcripts.
    adviser = stack.create_adviser(display_name="Ali Adviser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(WATCH)
            page = context.new_page()
            watch = Watch(stack.console_url)

            def on_dialog(dialog: Any) -> None:
                watch.dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("console", lambda msg: watch.console.append(msg.text))
            page.on("request", lambda req: watch.on_request(req.url))

            page.goto(stack.console_url + "/")
            page.wait_for_url("**/console/login**")
            page.get_by_label("Username").fill(adviser.username)
            page.get_by_label("Password").fill(ADVISER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(stack.console_url + "/")
            watch.assert_clean(page)

            # The queue: both hand-overs, their last messages shown as text.
            for cid, channel in ((web_cid, "Web"), (tg_cid, "Telegram")):
                card = page.locator(f'li.card[data-conversation="{cid}"]')
                expect(card).to_have_count(1)
                expect(card.locator(".meta")).to_contain_text(channel)
                quoted = card.locator(
                    ".person-words p:first-child"
                ).all_text_contents()
                stored = {m.content for m in stack.messages(cid)}
                assert quoted and set(quoted) <= stored, quoted
            page.wait_for_timeout(300)  # give any onerror/onload a moment to fire
            watch.assert_clean(page)

            # Each transcript: every payload literally, in the order typed.
            for cid, want in expected.items():
                page.goto(f"{stack.console_url}/conversations/{cid}")
                expect(page.locator(".msg-incoming .msg-text")).to_have_count(len(want))
                shown = page.locator(".msg-incoming .msg-text").all_text_contents()
                assert shown == want
                body = page.locator("#transcript").text_content() or ""
                assert all(p in body for p in PAYLOADS)
                page.wait_for_timeout(300)
                watch.assert_clean(page)
        finally:
            browser.close()
