"""The adviser's side of the safety net in a real browser on the real stack: an
urgent conversation jumps to the top of the queue with its marker in words,
every console page alerts live (an ARIA alert), the transcript flags the
message, and the pages pass axe-core."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from bot.db.models import ConversationStatus
from bot.domain.safety import emergency_text
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import ADVISER_PASSWORD, E2EStack
from tests.e2e.people import (
    FLOOR,
    MODEL_ONLY,
    Console,
    Person,
    adviser_console,
    closing_people,
    new_person,
    queued,
)

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "console-urgent.png"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


@pytest.fixture
def people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    yield from closing_people(stack, console)


def assert_no_axe_violations(page: Page, name: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


def sign_in_to_the_live_queue(page: Page, stack: E2EStack) -> None:
    """Sign in and wait until the queue's live stream is connected."""
    adviser = stack.create_adviser(display_name="Sam Safeguarding")
    page.goto(stack.console_url + "/")
    page.wait_for_url("**/console/login**")
    page.get_by_label("Username").fill(adviser.username)
    page.get_by_label("Password").fill(ADVISER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.console_url + "/")
    expect(page.locator("#urgent-alert")).to_have_attribute(
        "data-live", "open", timeout=TIMEOUT_MS
    )


def test_urgent_conversation_is_first_with_its_marker_and_advisers_are_alerted(
    stack: E2EStack, page: Page, people: list[Person]
) -> None:
    waiting = new_person(people, stack, "web")
    queued(waiting)  # someone already waiting, not urgent
    sign_in_to_the_live_queue(page, stack)
    expect(
        page.locator(f'li.card[data-conversation="{waiting.conversation_id}"]')
    ).to_be_visible()
    alert = page.locator("#urgent-alert")
    expect(alert).to_be_hidden()
    assert_no_axe_violations(page, "queue before")

    # A disclosure arrives on the widget while the adviser watches the queue.
    person = new_person(people, stack, "web")
    assert person.exchange(FLOOR) == [emergency_text(None)]
    cid = person.conversation_id
    assert cid is not None and person.conversation().urgent

    expect(alert).to_be_visible(timeout=TIMEOUT_MS)
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("Urgent: someone may be at risk now")
    cards = page.locator("#queue-live section:has(#waiting-heading) li.card")
    first = cards.first
    expect(first).to_have_attribute("data-conversation", cid, timeout=TIMEOUT_MS)
    expect(first.locator(".urgent-tag")).to_have_text("Urgent")
    expect(first.locator(".urgent-flag")).to_contain_text(
        "Urgent, check first: someone may be at risk now"
    )
    expect(first.locator(".person-words").first).to_contain_text(FLOOR)
    urgent_cards = page.locator("#queue-live li.card[data-urgent='yes']")
    expect(urgent_cards).to_have_count(1)  # other tests close what they open
    expect(page.locator("#waiting-heading")).to_contain_text("1 urgent")
    expect(page.locator("#live-status")).to_contain_text("urgent, shown first")
    assert_no_axe_violations(page, "queue with an urgent conversation")
    if not SCREENSHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The alert's link opens the conversation: flagged message, emergency text.
    alert.get_by_role("link", name="Open the urgent conversation").click()
    page.wait_for_url(f"**/conversations/{cid}")
    expect(page.locator("h1 .urgent-tag")).to_have_text("Urgent")
    flagged = page.locator("#transcript li.msg-incoming.msg-urgent")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text(FLOOR)
    expect(flagged).to_contain_text("Urgent: someone may be at risk")
    told = page.locator("#transcript li.msg-outgoing.msg-urgent")
    expect(told).to_contain_text("Emergency numbers sent")
    expect(told).to_contain_text("call 999 now")
    expect(page.locator("#status-panel .urgent-flag")).to_contain_text("Urgent")
    assert_no_axe_violations(page, "urgent conversation")


def test_a_conversation_open_on_screen_turns_urgent_live(
    stack: E2EStack, page: Page, people: list[Person]
) -> None:
    person = new_person(people, stack, "telegram")
    queued(person)
    cid = person.conversation_id
    assert cid is not None
    sign_in_to_the_live_queue(page, stack)
    with page.expect_response(lambda r: f"/conversations/{cid}/messages" in r.url):
        page.goto(f"{stack.console_url}/conversations/{cid}")  # its stream is open
    expect(page.locator("#urgent-alert")).to_have_attribute(
        "data-live", "open", timeout=TIMEOUT_MS
    )
    expect(page.locator("#transcript li.msg-urgent")).to_have_count(0)

    # The learned model hears it (no phrase matches): the message is stored
    # first, then flagged; the open transcript re-shows it with its flag.
    assert person.exchange(MODEL_ONLY) == [emergency_text(None)]
    assert person.conversation().status is ConversationStatus.QUEUED
    flagged = page.locator("#transcript li.msg-incoming.msg-urgent")
    expect(flagged).to_have_count(1, timeout=TIMEOUT_MS)
    expect(flagged).to_contain_text(MODEL_ONLY)
    expect(flagged.locator(".intent")).to_have_text("report_risk")
    expect(page.locator("#status-panel .urgent-flag")).to_contain_text(
        "Urgent", timeout=TIMEOUT_MS
    )
    expect(page.locator("#urgent-alert")).to_contain_text("Urgent")
    expect(page.locator("#live-status")).to_contain_text(
        "now urgent", timeout=TIMEOUT_MS
    )
    assert_no_axe_violations(page, "conversation turned urgent")
    page.get_by_role("button", name="Dismiss the urgent alert").click()
    expect(page.locator("#urgent-alert")).to_be_hidden()
