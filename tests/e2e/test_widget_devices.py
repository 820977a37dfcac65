"""The widget on a phone (390x844, touch) and on a desktop, in Chromium against the
real stack: full-screen layout with the input always in view, a resizable panel,
open state and scroll surviving a reload, the greeting, long lists of quick
replies, urgent advice pinned until dismissed, status lines, the length limit
and links; axe-clean and keyboard-only throughout. Writes the phone and desktop
screenshots in docs/screenshots (when missing, or UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect

from bot.db.models import ConversationStatus, MessageType
from bot.domain.safety import emergency_text
from bot.gateway.channels.web import MAX_TEXT
from bot.i18n import text as i18n_text
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import CSP_WATCH, E2EStack
from tests.e2e.people import FLOOR, Console, adviser_console

pytestmark = pytest.mark.e2e

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
TIMEOUT_MS = 20_000
DEVICES: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
JOINED = i18n_text("widget.status.claimed")
CLOSED = i18n_text("widget.status.resolved")


@pytest.fixture(params=list(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, device: str) -> Iterator[Page]:
    context = browser.new_context(**DEVICES[device])
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    yield page
    assert page.evaluate("window.__csp") == []
    context.close()


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


# ------------------------------------------------------------------- helpers


def shot(page: Page, name: str, device: str) -> None:
    """Save docs/screenshots/widget-NAME-DEVICE.png (if missing or asked to)."""
    path = SCREENSHOTS / f"widget-{name}-{device}.png"
    if path.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
        page.screenshot()
        return
    page.screenshot(path=str(path))


def assert_no_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def open_by_keyboard(page: Page) -> None:
    """Reach the launcher with Tab alone and open the panel with Enter."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('fd-launcher')"):
            page.keyboard.press("Enter")
            expect(page.locator("#fd-panel")).to_be_visible()
            expect(page.locator("#fd-input")).to_be_focused()
            return
    raise AssertionError("the launcher cannot be reached with Tab")


def send(page: Page, text: str) -> None:
    page.locator("#fd-input").fill(text)
    page.locator("#fd-input").press("Enter")


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not rendered"
    return found


def assert_inside(inner: Locator, outer: Locator) -> None:
    """``inner`` is wholly within ``outer``'s box (1 px of rounding allowed)."""
    a, b = box(inner), box(outer)
    assert a["x"] >= b["x"] - 1 and a["y"] >= b["y"] - 1, (a, b)
    assert a["x"] + a["width"] <= b["x"] + b["width"] + 1, (a, b)
    assert a["y"] + a["height"] <= b["y"] + b["height"] + 1, (a, b)


def assert_apart(one: Locator, other: Locator) -> None:
    """The two boxes do not overlap."""
    a, b = box(one), box(other)
    assert (
        a["y"] + a["height"] <= b["y"] + 1
        or b["y"] + b["height"] <= a["y"] + 1
        or a["x"] + a["width"] <= b["x"] + 1
        or b["x"] + b["width"] <= a["x"] + 1
    ), (a, b)


def in_view(page: Page, locator: Locator) -> None:
    """``locator`` is wholly inside the visible viewport."""
    size = page.viewport_size
    assert size is not None
    a = box(locator)
    assert a["y"] >= -1 and a["y"] + a["height"] <= size["height"] + 1, (a, size)
    assert a["x"] >= -1 and a["x"] + a["width"] <= size["width"] + 1, (a, size)


def controls_in_view(page: Page) -> None:
    """The input, Send and "Talk to a person" are on screen, inside the panel."""
    for control in ("#fd-input", ".fd-send", ".fd-human"):
        in_view(page, page.locator(control))
        assert_inside(page.locator(control), page.locator("#fd-panel"))


def conversation_id(page: Page) -> str:
    return str(
        page.evaluate(
            "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
            ".conversationId"
        )
    )


def bot_says(page: Page, text: str) -> None:
    expect(page.locator(".fd-msg--bot").last).to_contain_text(text, timeout=TIMEOUT_MS)


# --------------------------------------------------------------------- tests


def test_layout_greeting_and_reload(stack: E2EStack, page: Page, device: str) -> None:
    """Points 1 and 4: the panel's layout on each device, the greeting with its
    topics, the open state and scroll position after a reload."""
    page.goto(stack.gateway_url + "/")
    open_by_keyboard(page)
    panel = page.locator("#fd-panel")
    size = page.viewport_size
    assert size is not None
    if device == "phone":
        # The whole screen, the launcher out of the way, the input in view.
        assert box(panel) == {"x": 0, "y": 0, "width": 390, "height": 844}
        expect(page.locator(".fd-launcher")).to_be_hidden()
        expect(page.locator(".fd-resize")).to_be_hidden()
    else:
        # A panel at the bottom right that the keyboard can make larger.
        before = box(panel)
        assert before["width"] < 500 and before["x"] > size["width"] / 2
        expect(page.locator(".fd-launcher")).to_be_visible()
        handle = page.get_by_role("button", name="Resize the chat panel")
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowDown")
        grown = box(panel)
        assert grown["width"] == pytest.approx(before["width"] + 96, abs=1)
        assert grown["height"] == pytest.approx(before["height"] - 32, abs=1)
        # And the mouse: drag the top-left corner up and to the left.
        grip = box(handle)
        page.mouse.move(grip["x"] + 10, grip["y"] + 10)
        page.mouse.down()
        page.mouse.move(grip["x"] - 90, grip["y"] - 10, steps=4)  # +100, +20
        page.mouse.up()
        dragged = box(panel)
        assert dragged["width"] == pytest.approx(grown["width"] + 100, abs=2)
        assert dragged["height"] == pytest.approx(grown["height"] + 20, abs=2)
        # Still anchored at the bottom right.
        assert dragged["x"] + dragged["width"] == pytest.approx(
            before["x"] + before["width"], abs=1
        )
    in_view(page, page.locator("#fd-input"))
    in_view(page, page.locator(".fd-send"))

    # The greeting, with the three topics and a person, as buttons.
    greeting = page.locator(".fd-msg--greeting")
    expect(greeting).to_contain_text("What can I help with?")
    replies = page.locator(".fd-replies .fd-reply")
    expect(replies).to_have_text(
        ["Funding", "Governance", "Volunteering", "Talk to a person"]
    )
    expect(page.get_by_role("button", name="Talk to a person")).to_have_count(1)
    expect(page.locator(".fd-privacy")).to_contain_text("We store what you write")
    assert_inside(greeting, page.locator(".fd-log"))
    assert_no_axe_violations(page)
    shot(page, "greeting", device)

    # A topic button: its title is shown, the bot understands its payload.
    page.get_by_role("button", name="Governance").click()
    expect(page.locator(".fd-msg--person").last).to_have_text("You:Governance")
    bot_says(page, "Where is your group based")
    expect(page.locator(".fd-footer")).to_be_visible()
    cid = conversation_id(page)
    incoming = [
        m for m in stack.messages(cid) if m.message_type is MessageType.INCOMING
    ]
    assert [m.content for m in incoming] == ["Governance"]
    assert incoming[0].intent == "governance"

    # A long enquiry: said before sending when too long, sent whole when not.
    enquiry = " ".join(
        f"Paragraph {i}: we are a village hall committee and our lease, our "
        "insurance and our accounts all need looking at before the AGM."
        for i in range(60)
    )[:5000]
    page.locator("#fd-input").fill(enquiry + "x" * (MAX_TEXT + 1 - len(enquiry)))
    counter = page.locator("#fd-count")
    expect(counter).to_contain_text(f"limit is {MAX_TEXT:,}")
    expect(page.locator("#fd-input")).to_have_attribute("aria-invalid", "true")
    page.locator("#fd-input").press("Enter")
    expect(page.locator(".fd-msg--person")).to_have_count(1)  # not sent
    expect(page.locator("#fd-input")).not_to_have_value("")  # kept to shorten
    send(page, enquiry)
    expect(counter).to_have_text("")
    expect(page.locator(".fd-msg--person")).to_have_count(2)
    expect(page.locator(".fd-msg--person").last).not_to_have_class(
        "fd-msg fd-msg--person fd-msg--sending"
    )
    expect(page.locator(".fd-msg--person.fd-msg--sending")).to_have_count(
        0, timeout=TIMEOUT_MS
    )
    stored = [m.content for m in stack.messages(cid) if m.sender == "person"]
    assert stored == ["Governance", enquiry]
    controls_in_view(page)

    # Links with brackets: the whole address is linked, not the bracket round it.
    send(
        page,
        "Is this right? https://en.wikipedia.org/wiki/Trust_(law) "
        "(see https://www.gov.uk/charity-types).",
    )
    links = page.locator(".fd-msg--person a")
    expect(links).to_have_count(2, timeout=TIMEOUT_MS)
    assert links.evaluate_all("a => a.map(l => l.getAttribute('href'))") == [
        "https://en.wikipedia.org/wiki/Trust_(law)",
        "https://www.gov.uk/charity-types",
    ]
    expect(page.locator(".fd-msg--person.fd-msg--sending")).to_have_count(
        0, timeout=TIMEOUT_MS
    )

    # Scroll back into the long message, then reload: open, scrolled as it was.
    log = page.locator(".fd-log")
    page.wait_for_function(
        "() => { const l = document.querySelector('.fd-log');"
        " return l.scrollHeight > l.clientHeight * 2; }"
    )
    log.evaluate("l => { l.scrollTop = Math.round(l.scrollHeight / 3); }")
    page.wait_for_function(
        "() => JSON.parse(sessionStorage.getItem('frontdoor:view:' + location.origin))"
        ".atBottom === false"
    )
    scrolled = log.evaluate("l => l.scrollTop")
    count = page.locator(".fd-msg").count()
    page.reload()
    expect(panel).to_be_visible()  # no click: it was open
    expect(page.locator(".fd-msg")).to_have_count(count, timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('.fd-log').scrollTop - {scrolled}) < 2"
    )
    assert_no_axe_violations(page)

    if device == "phone":
        # The on-screen keyboard takes half the screen: the input stays in view.
        page.set_viewport_size({"width": 390, "height": 420})
        page.locator("#fd-input").focus()
        expect(panel).to_have_js_property("offsetHeight", 420)
        in_view(page, page.locator("#fd-input"))
        in_view(page, page.locator(".fd-header"))
    else:
        # The size chosen is kept.
        assert box(panel)["width"] == pytest.approx(dragged["width"], abs=2)

    # Closed, it stays closed after a reload.
    page.locator("#fd-input").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(".fd-launcher")).to_be_focused()
    page.reload()
    expect(page.locator(".fd-launcher")).to_be_visible()
    expect(panel).to_be_hidden()


def test_long_list_of_places_folds_into_a_searchable_list(
    stack: E2EStack, page: Page, device: str
) -> None:
    """Point 2: Kent's 13 council areas, none dropped, the question in view."""
    page.goto(stack.gateway_url + "/")
    open_by_keyboard(page)
    send(page, "How do we find a grant for our youth club?")
    bot_says(page, "Where is your group based")
    send(page, "Kent")
    bot_says(page, "Which one is your group in?")
    question = page.locator(".fd-msg--bot").last
    replies = page.locator(".fd-replies > .fd-reply")
    expect(replies).to_have_count(5)
    expect(replies.nth(3)).to_have_text("Show all 13 options")
    expect(replies.nth(4)).to_have_text("Skip")
    for i in range(5):  # every button on show, none scrolled out of its box
        assert_inside(replies.nth(i), page.locator(".fd-replies"))
        in_view(page, replies.nth(i))
    assert_inside(question, page.locator(".fd-log"))
    assert_apart(question, page.locator(".fd-privacy"))
    assert_apart(page.locator(".fd-replies"), page.locator(".fd-log"))
    shot(page, "places", device)

    # Keyboard only: to "show all", then search, then Enter on the one match.
    page.locator(".fd-reply--more").focus()
    page.keyboard.press("Enter")
    search = page.get_by_label("Search the options")
    expect(search).to_be_focused()
    choices = page.locator(".fd-choice-list .fd-choice")
    expect(choices).to_have_count(13)
    expect(choices.filter(has_text="Tunbridge Wells")).to_have_count(1)
    skip = page.get_by_role("button", name="Skip")
    assert_inside(skip, page.locator(".fd-replies"))
    for i in range(2):  # the list shows several at once, not a sliver
        assert_inside(choices.nth(i), page.locator(".fd-choice-list"))
    assert_inside(question, page.locator(".fd-log"))
    # The short privacy line steps aside while choosing (it was shown in full
    # at the start and is under "Your privacy"); it is back once answered.
    expect(page.locator(".fd-privacy")).to_be_hidden()
    controls_in_view(page)
    assert_no_axe_violations(page)
    shot(page, "places-list", device)

    search.type("tunb")
    expect(page.locator(".fd-choice-list .fd-choice:visible")).to_have_text(
        ["Tunbridge Wells"]
    )
    expect(page.locator(".fd-choice-count")).to_have_text("1 of 13 options shown")
    search.press("Enter")
    expect(page.locator(".fd-msg--person").last).to_have_text("You:Tunbridge Wells")
    expect(page.locator(".fd-privacy")).to_be_visible()
    expect(page.locator(".fd-log")).to_contain_text(
        "Official guidance", timeout=TIMEOUT_MS
    )
    conversation = stack.conversation(conversation_id(page))
    assert conversation is not None and conversation.lad_code == "E07000116"


def test_urgent_advice_stays_pinned_until_dismissed(
    stack: E2EStack, page: Page, device: str, console: Console
) -> None:
    """Point 3: the emergency text above everything that follows it."""
    page.goto(stack.gateway_url + "/")
    open_by_keyboard(page)
    send(page, FLOOR)
    pinned = page.get_by_role("region", name="Urgent advice")
    expect(pinned).to_be_visible(timeout=TIMEOUT_MS)
    expect(pinned).to_contain_text("call 999")
    cid = conversation_id(page)
    emergency = [m for m in stack.messages(cid) if m.urgent and m.sender == "bot"]
    assert [m.content for m in emergency] == [emergency_text(None)]
    try:
        # More bubbles follow (the adviser's): the advice stays in view.
        console.claim(cid)
        console.reply(cid, "I'm here. Are you and the young person safe right now?")
        expect(page.locator(".fd-msg--adviser")).to_have_count(1, timeout=TIMEOUT_MS)
        # Point 5: told, as a line of its own, that an adviser joined.
        expect(page.locator(".fd-msg--system")).to_have_text([JOINED])
        send(page, "yes we are safe, thank you")
        expect(page.locator(".fd-msg--person.fd-msg--sending")).to_have_count(
            0, timeout=TIMEOUT_MS
        )
        in_view(page, pinned)
        assert_inside(pinned, page.locator("#fd-panel"))
        controls_in_view(page)
        assert_no_axe_violations(page)
        shot(page, "urgent", device)

        # A reload keeps it pinned; dismissed, it stays dismissed.
        page.reload()
        expect(pinned).to_be_visible(timeout=TIMEOUT_MS)
        expect(pinned).to_contain_text("call 999")
        pinned.get_by_role("button", name="Dismiss this advice").click()
        expect(pinned).to_be_hidden()
        expect(page.locator("#fd-input")).to_be_focused()
        expect(page.locator(".fd-msg--urgent")).to_contain_text("call 999")
        page.reload()
        expect(page.locator(".fd-msg--urgent")).to_have_count(1, timeout=TIMEOUT_MS)
        expect(pinned).to_be_hidden()

        # Resolved: told live that it is closed, and that they may write again.
        console.resolve(cid, "answered")
        expect(page.locator(".fd-msg--system").last).to_have_text(
            CLOSED, timeout=TIMEOUT_MS
        )
        expect(page.locator(".fd-msg--system")).to_have_text([JOINED, CLOSED])
        expect(page.locator(".fd-notice")).to_have_text("")
        assert_no_axe_violations(page)
    finally:
        if stack.conversation(cid).status is ConversationStatus.ASSIGNED:  # type: ignore[union-attr]
            console.resolve(cid, "other")
