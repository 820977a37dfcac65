"""The adviser's half of the flow through the real stack, in real browsers.

A person is triaged and asks for a person (widget, or Telegram through the fake
Bot API); an adviser signs in to the console, finds the hand-over in the queue,
picks it up and replies; the reply reaches the person's channel; the adviser
resolves. Also writes the console screenshots in docs/screenshots from this real
hand-over (only when missing or UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from bot.db.models import (
    Conversation,
    ConversationStatus,
    LocalAuthority,
    Message,
    MessageType,
    Organisation,
)
from bot.db.session import session_scope
from bot.directory.service import guidance_for
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.i18n import text as i18n_text
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import ADVISER_PASSWORD, REPLY_TIMEOUT_MS, E2EStack, send

pytestmark = [
    pytest.mark.e2e,
]

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
QUESTION = "How can we find a grant for our community garden?"
HANDED_OVER = "I'm passing you to a human adviser now."
JOINED = i18n_text("widget.status.claimed")
CLOSED = i18n_text("widget.status.resolved")
RATING_QUESTION = i18n_text("ratings.question")


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts (separate cookies and storage) closed after the test."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_page(contexts: list[BrowserContext], browser: Browser, **kw: Any) -> Page:
    context = browser.new_context(**kw)
    contexts.append(context)
    return context.new_page()


def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save docs/screenshots/NAME.png if missing or UPDATE_SCREENSHOTS=1."""
    path = SCREENSHOTS / f"{name}.png"
    if path.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
        page.screenshot(full_page=full_page)  # still rendered, so it can fail here
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)


def sign_in(page: Page, stack: E2EStack, username: str) -> None:
    """Sign in through the console's login form."""
    page.goto(stack.console_url + "/")
    page.wait_for_url("**/console/login**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(ADVISER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.console_url + "/")


def directory_facts(stack: E2EStack, conversation: Conversation) -> dict[str, Any]:
    """The LIO, district and guidance the directory holds for a conversation."""
    assert conversation.topic is not None and conversation.lad_code is not None
    with session_scope(stack.database_url) as session:
        lad = session.get(LocalAuthority, conversation.lad_code)
        assert lad is not None
        org = (
            session.get(Organisation, conversation.organisation_id)
            if conversation.organisation_id
            else None
        )
        guidance = guidance_for(  # as actions/resources.py chooses them
            session,
            topic=conversation.topic,
            subtopic=conversation.subtopic,
            nation=lad.nation,
            limit=3,
        ).pages
        return {
            "lad_name": lad.name,
            "organisation": org.name if org else None,
            "guidance_urls": [r.url for r in guidance],
        }


def visible(messages: list[Message]) -> list[tuple[str, str]]:
    """(sender, text) of the messages the person sees, in stored order."""
    return [
        (m.sender, m.content)
        for m in messages
        if m.message_type in (MessageType.INCOMING, MessageType.OUTGOING)
    ]


def activity(messages: list[Message]) -> list[str]:
    return [m.content for m in messages if m.message_type is MessageType.ACTIVITY]


def claim_from_queue(page: Page, cid: str) -> None:
    """Pick the conversation up from its card in the queue."""
    card = page.locator(f'li.card[data-conversation="{cid}"]')
    card.get_by_role("button", name=re.compile(r"^Pick up")).click()
    page.wait_for_url(f"**/conversations/{cid}?notice=claimed")
    expect(page.locator("#status-panel .status")).to_have_text("Picked up by you")


def reply(page: Page, cid: str, text: str) -> None:
    page.get_by_label("Reply to the person").fill(text)
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(f"**/conversations/{cid}?notice=replied")


def resolve(page: Page, stack: E2EStack, cid: str, outcome: str) -> None:
    page.locator("#status-panel").get_by_label("Outcome").select_option(outcome)
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(stack.console_url + "/?notice=resolved")
    expect(page.locator(f'li.card[data-conversation="{cid}"]')).to_have_count(0)


# ------------------------------------------------------------------------ widget


def test_widget_handover_adviser_reply_reload_and_resolve(
    stack: E2EStack, browser: Browser, contexts: list[BrowserContext]
) -> None:
    adviser = stack.create_adviser(display_name="Jo Adviser")
    person = new_page(contexts, browser, viewport={"width": 1100, "height": 820})
    console = new_page(contexts, browser, viewport={"width": 1280, "height": 900})

    # The person: a funding question, a town, the LIO and guidance, a person.
    person.goto(stack.gateway_url + "/")
    person.locator(".fd-launcher").click()
    send(person, QUESTION)
    expect(person.locator(".fd-msg--bot").last).to_contain_text(
        "Where is your group based", timeout=REPLY_TIMEOUT_MS
    )
    send(person, "Truro")
    log = person.locator(".fd-log")
    expect(log).to_contain_text("Official guidance", timeout=REPLY_TIMEOUT_MS)
    cid = person.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    triaged = stack.conversation(cid)
    assert triaged is not None
    assert triaged.topic == "funding"
    assert triaged.place_name is not None and triaged.place_name.startswith("Truro")
    facts = directory_facts(stack, triaged)
    assert facts["lad_name"] == "Cornwall"
    assert facts["organisation"].startswith("Cornwall Voluntary Sector Forum")
    expect(log).to_contain_text(facts["organisation"])
    assert facts["guidance_urls"]
    hrefs = person.locator(".fd-log a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert set(facts["guidance_urls"]) <= set(hrefs)

    person.get_by_role("button", name="Talk to a person").click()
    expect(person.locator(".fd-msg--bot").last).to_contain_text(
        HANDED_OVER, timeout=REPLY_TIMEOUT_MS
    )
    expect(person.locator(".fd-notice")).to_contain_text("queue")
    queued = stack.conversation(cid)
    assert queued is not None and queued.status is ConversationStatus.QUEUED

    # The adviser: the hand-over is in the queue with its summary.
    sign_in(console, stack, adviser.username)
    card = console.locator(f'li.card[data-conversation="{cid}"]')
    expect(card).to_be_visible()
    expect(card.locator(".meta")).to_contain_text("Waiting")
    expect(card.locator(".meta")).to_contain_text("Web")
    # the person's own question quoted; why, topic, place, LIO, what the bot gave
    expect(card.locator(".person-words").first).to_contain_text(QUESTION)
    brief = card.locator(".brief")
    expect(brief).to_contain_text("Asked for a person")
    expect(brief).to_contain_text("Funding")
    expect(brief).to_contain_text(f"{triaged.place_name} ({facts['lad_name']}")
    expect(card.locator(".facts")).to_contain_text(facts["organisation"])
    expect(brief.locator(".given-orgs")).to_contain_text(facts["organisation"])
    shot(console, "console-queue", full_page=True)

    # Pick up: the person is told, live, that an adviser is looking.
    console.locator(f'li.card[data-conversation="{cid}"] .card-title a').click()
    expect(console.locator(".brief")).to_contain_text("Asked for a person")
    expect(console.locator(".person-words").first).to_contain_text(QUESTION)
    console.get_by_role("button", name="Pick up", exact=True).click()
    console.wait_for_url(f"**/conversations/{cid}?notice=claimed")
    expect(console.locator("#status-panel .status")).to_have_text("Picked up by you")
    expect(person.locator(".fd-notice")).to_contain_text(
        "An adviser is looking", timeout=REPLY_TIMEOUT_MS
    )
    expect(person.locator(".fd-msg--system")).to_have_text([JOINED])
    # Canned replies come from the directory: the LIO and the guidance shown.
    canned = console.locator(".canned-text")
    for url in facts["guidance_urls"]:
        expect(canned.filter(has_text=url)).to_have_count(1)

    # The reply reaches the widget live, after everything the bot said.
    text = (
        "Hello, I'm Jo from the support team. Is the garden on land your group "
        "owns or rents?"
    )
    reply(console, cid, text)
    expect(console.locator(".msg-outgoing.from-adviser .msg-text").last).to_have_text(
        text
    )
    adviser_msg = person.locator(".fd-msg--adviser")
    expect(adviser_msg).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    expect(adviser_msg).to_contain_text(text)
    expect(person.locator(".fd-msg").last).to_contain_text(text)
    shot(person, "widget-adviser-reply")
    shot(console, "console-transcript", full_page=True)

    # Reload: the whole history comes back, the adviser's reply last.
    shown = person.locator(".fd-msg").all_inner_texts()
    person.reload()
    expect(person.locator("#fd-panel")).to_be_visible()  # open before: open again
    expect(person.locator(".fd-msg")).to_have_count(
        len(shown), timeout=REPLY_TIMEOUT_MS
    )
    assert person.locator(".fd-msg").all_inner_texts() == shown
    expect(person.locator(".fd-msg--adviser")).to_contain_text(text)
    expect(person.locator(".fd-notice")).to_contain_text("An adviser is looking")

    # Resolve with an outcome: gone from the queue; the widget's notice clears.
    console.goto(f"{stack.console_url}/conversations/{cid}")
    resolve(console, stack, cid, "answered")
    expect(person.locator(".fd-notice")).to_have_text("", timeout=REPLY_TIMEOUT_MS)
    expect(person.locator(".fd-msg--system").last).to_have_text(CLOSED)

    resolved = stack.conversation(cid)
    assert resolved is not None
    assert resolved.status is ConversationStatus.RESOLVED
    assert resolved.outcome == "answered"
    assert resolved.assignee_id == adviser.id
    assert resolved.first_reply_at is not None
    stored = stack.messages(cid)
    seen = visible(stored)
    assert [t for s, t in seen if s == "person"] == [
        QUESTION,
        "Truro",
        "I'd like to talk to a person",
    ]
    assert seen[-5][0] == "bot" and seen[-5][1].startswith(HANDED_OVER)
    assert seen[-4:] == [
        ("system", JOINED),
        ("adviser", text),
        ("system", CLOSED),
        ("bot", RATING_QUESTION),  # asked once at the resolve
    ]
    assert [m.adviser_id for m in stored if m.sender == "adviser"] == [adviser.id]
    assert activity(stored) == [
        "Conversation handed over to the adviser queue",
        "Adviser Jo Adviser picked up the conversation",
        "Adviser Jo Adviser resolved the conversation (answered)",
    ]

    # The transcript shows the activity lines in order, around the reply.
    console.goto(f"{stack.console_url}/conversations/{cid}")
    expect(console.locator("#status-panel .status")).to_have_text("Resolved (answered)")
    lines = console.locator("#transcript > li")
    texts = [t.strip() for t in lines.all_inner_texts()]
    handed = _index(texts, "Conversation handed over to the adviser queue")
    picked = _index(texts, "Adviser Jo Adviser picked up the conversation")
    replied = _index(texts, text)
    closed = _index(texts, "Adviser Jo Adviser resolved the conversation (answered)")
    told = _index(texts, CLOSED)
    asked = _index(texts, RATING_QUESTION)
    assert handed < picked < replied < closed < told < asked == len(texts) - 1


def _index(texts: list[str], part: str) -> int:
    found = [i for i, t in enumerate(texts) if part in t]
    assert len(found) == 1, (part, texts)
    return found[0]


# ---------------------------------------------------------------------- Telegram


def post_update(stack: E2EStack, update: dict[str, Any]) -> None:
    response = httpx.post(
        stack.gateway_url + WEBHOOK_PATH,
        json=update,
        headers={SECRET_HEADER: stack.telegram_secret},
        timeout=10,
    )
    assert response.status_code == 200


def test_telegram_handover_adviser_reply_and_resolve(
    stack: E2EStack, browser: Browser, contexts: list[BrowserContext]
) -> None:
    api = stack.bot_api
    chat = 6_000_000 + secrets.randbelow(1_000_000)

    def texts_here() -> list[str]:
        return api.sent_texts(chat)

    def wait_for_text(part: str) -> list[str]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sent = texts_here()
            if any(part in t for t in sent):
                return sent
            time.sleep(0.1)
        raise AssertionError(f"no message with {part!r} to {chat}: {texts_here()}")

    # Ask, give a place, accept the offer of an adviser by typing (the inline
    # button is covered by test_channels_stack.py).
    post_update(stack, api.text_update(chat, QUESTION))
    wait_for_text("Where is your group based")
    post_update(stack, api.text_update(chat, "Truro"))
    wait_for_text("Cornwall Voluntary Sector Forum")
    wait_for_text("talk to a human adviser about this")
    offer = [
        p
        for p in api.called("sendMessage")
        if int(p["chat_id"]) == chat and p.get("reply_markup")
    ][-1]
    assert offer["reply_markup"]["inline_keyboard"][0][0]["text"] == (
        "Yes, talk to an adviser"
    )
    post_update(stack, api.text_update(chat, "Yes please"))
    wait_for_text(HANDED_OVER)

    with session_scope(stack.database_url) as session:
        cid = session.scalar(
            select(Conversation.id).where(
                Conversation.channel == "telegram",
                Conversation.channel_user_id == str(chat),
            )
        )
    assert cid is not None
    queued = stack.conversation(cid)
    assert queued is not None and queued.status is ConversationStatus.QUEUED

    # The adviser finds it in the queue, picks it up and replies.
    adviser = stack.create_adviser(display_name="Sam Adviser")
    console = new_page(contexts, browser, viewport={"width": 1280, "height": 900})
    sign_in(console, stack, adviser.username)
    card = console.locator(f'li.card[data-conversation="{cid}"]')
    expect(card.locator(".meta")).to_contain_text("Telegram")
    expect(card.locator(".brief")).to_contain_text("Accepted the offer of an adviser")
    expect(card.locator(".brief")).to_contain_text("Truro")
    expect(card.locator(".brief")).not_to_contain_text("/request_human")
    expect(card.locator(".facts")).to_contain_text("Cornwall Voluntary Sector Forum")
    claim_from_queue(console, cid)
    wait_for_text(JOINED)  # told on Telegram too, through the outbox
    before = texts_here()
    text = "Hello, this is Sam, an adviser. Which grant were you thinking of?"
    reply(console, cid, text)

    # The fake Bot API got exactly one sendMessage with the reply, after the rest,
    # labelled with the adviser's first name.
    wait_for_text(text)
    after = texts_here()
    assert after[: len(before)] == before
    assert after[len(before) :] == [f"Sam (adviser): {text}"]
    assert any(HANDED_OVER in t for t in before)

    # The person answers on Telegram: the console shows it live, the bot is silent.
    post_update(stack, api.text_update(chat, "A community fund grant, thank you"))
    expect(console.locator(".msg-incoming .msg-text").last).to_have_text(
        "A community fund grant, thank you", timeout=REPLY_TIMEOUT_MS
    )
    assert texts_here() == after

    resolve(console, stack, cid, "referred_to_lio")
    wait_for_text(CLOSED)
    resolved = stack.conversation(cid)
    assert resolved is not None
    assert resolved.status is ConversationStatus.RESOLVED
    assert resolved.outcome == "referred_to_lio"
    assert resolved.assignee_id == adviser.id
    stored = stack.messages(cid)
    seen = visible(stored)
    assert seen[-4:] == [
        ("adviser", text),
        ("person", "A community fund grant, thank you"),
        ("system", CLOSED),
        ("bot", RATING_QUESTION),  # asked once at the resolve
    ]
    adviser_rows = [m for m in stored if m.sender == "adviser"]
    assert [(m.adviser_id, m.delivered_at is not None) for m in adviser_rows] == [
        (adviser.id, True)
    ]
    assert activity(stored) == [
        "Conversation handed over to the adviser queue",
        "Adviser Sam Adviser picked up the conversation",
        "Adviser Sam Adviser resolved the conversation (referred to lio)",
    ]
