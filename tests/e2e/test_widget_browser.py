"""The widget in a real browser against the real stack: keyboard, triage, hand-over,
reload, accessibility (axe-core) and the screenshots in docs/screenshots."""

from __future__ import annotations

import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from bot.db.models import ConversationStatus, MessageType
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import REPLY_TIMEOUT_MS, E2EStack, send

pytestmark = [
    pytest.mark.e2e,
]

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def tab_to_launcher(page: Page) -> None:
    """Reach the chat launcher with the Tab key alone."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('fd-launcher')"):
            return
    raise AssertionError("the launcher cannot be reached with Tab")


def shot(page: Page, name: str) -> None:
    """Save docs/screenshots/widget-NAME.png if missing or UPDATE_SCREENSHOTS=1."""
    path = SCREENSHOTS / f"widget-{name}.png"
    if path.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
        page.screenshot()  # still rendered, so a broken page fails here too
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def assert_no_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_widget_triage_handoff_reload_and_accessibility(
    stack: E2EStack, page: Page
) -> None:
    page.goto(stack.gateway_url + "/")
    launcher = page.locator(".fd-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_have_accessible_name("Open chat with Front Door")
    assert_no_axe_violations(page)
    shot(page, "closed")

    # Open by keyboard: focus moves into the panel, the privacy notice is shown.
    tab_to_launcher(page)
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Front Door")
    expect(panel).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#fd-input")).to_be_focused()
    privacy = page.locator(".fd-privacy")
    expect(privacy).to_contain_text("We store what you write")
    expect(privacy).to_contain_text("advisers")
    expect(page.locator(".fd-log")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="Talk to a person")).to_be_visible()
    assert_no_axe_violations(page)
    shot(page, "open")

    # A funding question: the bot asks where the group is.
    send(page, "How can we find a grant for our community garden?")
    expect(page.locator(".fd-msg--bot").last).to_contain_text(
        "Where is your group based", timeout=REPLY_TIMEOUT_MS
    )
    expect(page.get_by_role("button", name="Skip")).to_be_visible()

    # A town: the local organisation and guidance.
    send(page, "Truro")
    log = page.locator(".fd-log")
    expect(log).to_contain_text(
        "Cornwall Voluntary Sector Forum", timeout=REPLY_TIMEOUT_MS
    )
    expect(log).to_contain_text("Official guidance", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(".fd-log a").first).to_have_attribute(
        "rel", "noopener noreferrer"
    )
    expect(page.locator(".fd-typing")).to_have_text("")
    assert_no_axe_violations(page)
    shot(page, "triage")

    # A quick reply: its title is shown and sent, its payload goes to Rasa.
    page.get_by_role("button", name="No thanks").click()
    expect(page.locator(".fd-msg--person").last).to_have_text("You:No thanks")
    expect(log).to_contain_text("anything else", timeout=REPLY_TIMEOUT_MS)
    # The person took the answer: the one rating question, as five quick replies.
    expect(page.locator(".fd-msg--bot").last).to_contain_text(
        "Did this help?", timeout=REPLY_TIMEOUT_MS
    )
    expect(page.locator(".fd-reply")).to_have_count(5)

    # Talk to a person: handed over, told they are in the queue.
    page.get_by_role("button", name="Talk to a person").click()
    expect(log).to_contain_text("I'd like to talk to a person")
    expect(log).to_contain_text("human adviser", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(".fd-notice")).to_contain_text("queue")
    shot(page, "handoff")

    cid = page.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    conversation = stack.conversation(cid)
    assert conversation is not None
    assert conversation.status is ConversationStatus.QUEUED
    stored = stack.messages(cid)
    incoming = [m for m in stored if m.message_type is MessageType.INCOMING]
    assert [m.content for m in incoming] == [
        "How can we find a grant for our community garden?",
        "Truro",
        "No thanks",
        "I'd like to talk to a person",
    ]
    assert incoming[0].intent == "funding"

    # Reload: the same conversation and its history come back.
    count = page.locator(".fd-msg").count()
    page.reload()
    expect(page.locator("#fd-panel")).to_be_visible()  # open before: open again
    expect(page.locator(".fd-msg")).to_have_count(count, timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(".fd-log")).to_contain_text("Truro")
    expect(page.locator(".fd-notice")).to_contain_text("queue")
    assert_no_axe_violations(page)
    shot(page, "reloaded")

    # Escape closes the panel and gives focus back to the launcher.
    page.locator("#fd-input").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(".fd-launcher")).to_be_focused()
    assert page.evaluate("window.__csp") == []
