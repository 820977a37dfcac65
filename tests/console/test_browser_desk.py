"""The adviser's desk in a real browser: the brief and waiting bands on the queue,
the opt-in sound and desktop alert for a new urgent conversation, the searchable
organisation filter, j/k/?/Ctrl+Enter, e (asking first: Escape keeps, Enter
resolves), the "/" saved replies, correcting the
topic and place, search, and the queue on a phone (axe-clean throughout).

UPDATE_SCREENSHOTS=1 writes the screenshots to docs/screenshots/; otherwise they
stay in the test's temporary folder."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page
from sqlalchemy import select, update

from bot.db.base import utcnow
from bot.db.models import Conversation, ConversationStatus, Message, MessageType
from bot.db.repositories import console_desk as desk
from bot.db.session import session_scope
from bot.gateway import hub
from bot.gateway.events import status_event
from tests.console.conftest import make_adviser, make_conversation
from tests.console.test_browser import (
    _page,
    _sign_in,
    _until,
    _wait_for_stream,
    browser,  # noqa: F401 (fixtures)
    server,  # noqa: F401
)

pytestmark = [pytest.mark.e2e]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ENQUIRY = (
    "We are the committee of Northdale village hall. The roof leaks over the main "
    "room, and the lunch club, the toddler group and the Tuesday choir all use it. "
    "We have about £2,000 in reserves, the repair quote is £14,500, and we have "
    "never applied for a grant before. Who funds this kind of repair, can we ask "
    "more than one funder at once, and do we need to be a registered charity first?"
)
# A stand-in for the desktop notification: records what the page asked to show.
NOTIFICATIONS = """
window.__notes = [];
class FakeNotification {
  constructor(title, options) {
    window.__notes.push({title: title, body: options.body});
  }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
}
window.Notification = FakeNotification;
"""


async def _shot(
    page: Page, name: str, tmp_path: Path, *, full_page: bool = True
) -> None:
    target = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    await page.screenshot(path=str(target / name), full_page=full_page)


async def _axe(page: Page, name: str) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


def _seed(db_url: str) -> dict[str, str]:
    long_one = make_conversation(
        db_url,
        waited_minutes=75,
        messages=[
            (MessageType.INCOMING, "person", "hello", ("greet", 0.99)),
            (MessageType.INCOMING, "person", ENQUIRY, ("funding", 0.82)),
            (
                MessageType.OUTGOING,
                "bot",
                "This guidance from NCVO should help: "
                "https://www.ncvo.org.uk/help-and-guidance/funding-income/",
            ),
            (
                MessageType.INCOMING,
                "person",
                "Yes, talk to an adviser",
                ("request_human", 1),
            ),
        ],
        organisation_names=["Testshire CVS"],
    )
    with session_scope(db_url) as s:
        s.execute(
            update(Message)
            .where(Message.conversation_id == long_one, Message.sender == "bot")
            .values(
                buttons=[
                    {"title": "Yes, talk to an adviser", "payload": "/request_human"}
                ]
            )
        )
    amber = make_conversation(
        db_url,
        topic="governance",
        subtopic="trustees",
        place_name="Southdale",
        lad_code="E07000002",
        waited_minutes=20,
        messages=[
            (
                MessageType.INCOMING,
                "person",
                "Our treasurer has resigned mid-year, what now?",
            )
        ],
        intent=("governance", 0.8),
    )
    fresh = make_conversation(
        db_url,
        topic="volunteering",
        subtopic="checks",
        waited_minutes=2,
        messages=[
            (MessageType.INCOMING, "person", "Do our youth volunteers need DBS checks?")
        ],
        intent=("volunteering", 0.7),
    )
    resolved = make_conversation(
        db_url,
        status=ConversationStatus.RESOLVED,
        messages=[
            (MessageType.INCOMING, "person", "Can the scout hut claim Gift Aid?")
        ],
    )
    with session_scope(db_url) as s:
        old = utcnow() - timedelta(days=30)
        s.execute(
            update(Conversation)
            .where(Conversation.id == resolved)
            .values(created_at=old, updated_at=old)
        )
    return {"long": long_one, "amber": amber, "fresh": fresh, "resolved": resolved}


async def test_desk_flow_on_a_desktop(
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    db_url: str,
    directory: dict[str, str],
    tmp_path: Path,
) -> None:
    adviser_id = make_adviser(db_url)
    with session_scope(db_url) as s:
        desk.add_saved_reply(
            s,
            adviser_id=adviser_id,
            shortcut="hall",
            title="Village hall repairs",
            text="For hall repairs, start with the local community foundation.",
        )
    seeded = _seed(db_url)
    page, watch = await _page(browser, server)
    await page.context.add_init_script(NOTIFICATIONS)
    await _sign_in(page, server)

    # the queue: the person's words, longest waiting first, bands in words
    cards = page.locator("#queue-live section:has(#waiting-heading) li.card")
    assert await cards.evaluate_all("cs => cs.map(c => c.dataset.conversation)") == [
        seeded["long"],
        seeded["amber"],
        seeded["fresh"],
    ]
    first = cards.first
    assert "We are the committee of Northdale village hall" in (
        await first.locator(".person-words").first.text_content() or ""
    )
    assert "more characters" in (await first.locator(".cut").text_content() or "")
    assert await first.locator(".pressed").text_content() == (
        "Pressed: “Yes, talk to an adviser”"
    )
    assert "/request_human" not in await page.content()
    assert await first.get_attribute("data-band") == "red"
    assert await cards.nth(1).get_attribute("data-band") == "amber"
    assert "over the 15 min target" in (await cards.nth(1).text_content() or "")
    assert await first.locator(".unread-badge").text_content() == (
        "3 new messages from the person"
    )
    await _axe(page, "queue")
    await _shot(page, "console-queue-brief.png", tmp_path)

    # the organisation filter narrows as the adviser types
    await page.get_by_label("Find an organisation").fill("cymru")
    visible = await page.locator("#organisation option").evaluate_all(
        "os => os.filter(o => !o.hidden && o.value).map(o => o.textContent)"
    )
    assert visible == ["Testshire Cymru CVC"]
    assert await page.locator("#organisation").input_value() == "lio901"
    await page.get_by_label("Find an organisation").fill("")

    # opt in to sound and desktop alerts; a new urgent conversation sets them off
    await page.get_by_label(
        "Sound and desktop alert when a conversation becomes urgent"
    ).check()
    await _wait_for_stream(hub.QUEUE_TOPIC)
    hub.publish(hub.QUEUE_TOPIC, status_event(seeded["fresh"], "queued", urgent=True))
    await _until(page, "() => document.documentElement.dataset.urgentAlerts === '1'")
    assert (
        await page.evaluate("document.documentElement.dataset.urgentAlertSound")
        == "yes"
    )
    notes = await page.evaluate("window.__notes")
    assert notes == [
        {
            "title": "Urgent conversation in Front Door",
            "body": "Someone may be at risk now. It is first in the queue.",
        }
    ]
    # the same conversation again does not ring twice
    hub.publish(hub.QUEUE_TOPIC, status_event(seeded["fresh"], "queued", urgent=True))
    await _until(
        page, "() => document.getElementById('live-status').textContent !== ''"
    )
    assert await page.evaluate("window.__notes.length") == 1
    await page.get_by_role("button", name="Dismiss the urgent alert").click()

    # keyboard: ? lists the shortcuts, j/k move through the cards, Enter opens
    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert await dialog.is_visible()
    assert "Ctrl + Enter" in (await dialog.text_content() or "").replace("\n", " ")
    await _axe(page, "shortcuts")
    await page.keyboard.press("Escape")
    assert not await dialog.is_visible()
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await page.keyboard.press("k")
    focused = await page.evaluate(
        "document.activeElement.closest('li.card').dataset.conversation"
    )
    mine_or_waiting = await page.locator("li.card").evaluate_all(
        "cs => cs.map(c => c.dataset.conversation)"
    )
    assert focused == mine_or_waiting[0]
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/conversations/{mine_or_waiting[0]}")

    # the conversation: the brief on top, pick up, "/" for a saved reply, Ctrl+Enter
    await page.goto(f"{server}/console/conversations/{seeded['long']}")
    top = await page.locator("section:has(#summary-heading)").text_content() or ""
    assert "We are the committee of Northdale village hall" in top
    assert "https://www.ncvo.org.uk/help-and-guidance/funding-income/" in top
    await page.get_by_role("button", name="Pick up", exact=True).click()
    await page.wait_for_url("**?notice=claimed")
    box = page.get_by_label("Reply to the person")
    await box.click()
    await page.keyboard.type("/ha")
    option = page.get_by_role("option", name="/hall Village hall repairs")
    assert await option.is_visible()
    await page.keyboard.press("Enter")
    assert await box.input_value() == (
        "For hall repairs, start with the local community foundation."
    )
    await _axe(page, "conversation with saved replies")
    await _shot(page, "console-conversation-brief.png", tmp_path)
    await page.keyboard.press("Control+Enter")
    await page.wait_for_url("**?notice=replied")
    with session_scope(db_url) as s:
        last = s.scalars(
            select(Message)
            .where(
                Message.conversation_id == seeded["long"], Message.sender == "adviser"
            )
            .order_by(Message.id.desc())
        ).first()
        assert last is not None
        assert (
            last.content
            == "For hall repairs, start with the local community foundation."
        )

    # an "e" typed in the reply box is a letter, not a shortcut
    await box.click()
    await page.keyboard.type("e")
    assert await box.input_value() == "e"
    confirm = page.get_by_role("dialog", name="Resolve this conversation?")
    assert not await confirm.is_visible()
    await box.fill("")

    # e asks first; Escape goes back and nothing changes
    await page.locator("h1").click()
    await page.keyboard.press("e")
    assert await confirm.is_visible()
    assert await page.evaluate("document.activeElement.textContent") == "Resolve"
    await _axe(page, "resolve confirmation")
    # the window only: a modal dialog's backdrop covers the viewport
    await _shot(page, "console-resolve-confirm.png", tmp_path, full_page=False)
    await page.keyboard.press("j")  # no shortcut behind the dialog
    assert await confirm.is_visible()
    await page.keyboard.press("Escape")
    assert not await confirm.is_visible()
    await _until(
        page,
        "() => document.getElementById('live-status').textContent.includes("
        "'Not resolved.')",
    )
    with session_scope(db_url) as s:
        kept = s.get(Conversation, seeded["long"])
        assert kept is not None and kept.status is ConversationStatus.ASSIGNED

    # correct the topic and the place
    await page.locator("details.correct summary").click()
    await page.get_by_label("Topic", exact=True).select_option("funding/grants")
    await page.get_by_label("District").fill("Southdale, Testshire (E07000002)")
    await page.get_by_role("button", name="Save the correction").click()
    await page.wait_for_url("**?notice=corrected")
    with session_scope(db_url) as s:
        corrected = s.get(Conversation, seeded["long"])
        assert corrected is not None and corrected.lad_code == "E07000002"

    # e, then another outcome from the keyboard, then Enter resolves
    await page.locator("h1").click()
    await page.keyboard.press("e")
    assert await confirm.is_visible()
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate("document.activeElement.id") == (
        "resolve-confirm-outcome"
    )
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/?notice=resolved")
    with session_scope(db_url) as s:
        resolved = s.get(Conversation, seeded["long"])
        assert resolved is not None
        assert resolved.status is ConversationStatus.RESOLVED
        assert resolved.outcome == "referred_to_lio"

    # search finds the resolved conversation from a month ago
    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("Words").fill("scout hut")
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.wait_for_url("**/search?**")
    results = await page.locator("ol.results li.card").evaluate_all(
        "cs => cs.map(c => c.dataset.conversation)"
    )
    assert results == [seeded["resolved"]]
    await _axe(page, "search")
    await _shot(page, "console-search.png", tmp_path)
    await watch.assert_clean(page)


async def test_queue_on_a_phone(
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    db_url: str,
    directory: dict[str, str],
    tmp_path: Path,
) -> None:
    make_adviser(db_url)
    seeded = _seed(db_url)
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await _sign_in(page, server)
    # nothing wider than the screen, the brief readable, Pick up within reach
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    first = page.locator("#queue-live section:has(#waiting-heading) li.card").first
    assert await first.get_attribute("data-conversation") == seeded["long"]
    assert await first.locator(".person-words").first.is_visible()
    box = await first.locator(".person-words").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    await _axe(page, "queue on a phone")
    await _shot(page, "console-queue-phone.png", tmp_path)
    await first.get_by_role("button", name="Pick up").tap()
    await page.wait_for_url(f"**/conversations/{seeded['long']}?notice=claimed")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await context.close()
