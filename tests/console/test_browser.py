"""The console in a real browser: stored-XSS corpus, CSP, live updates, keyboard,
axe-core accessibility, and screenshots of seeded pages (kept in the test's temp
dir: docs/screenshots shows the real stack, from tests/e2e/test_adviser_flow.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select
from starlette.applications import Starlette

from bot.db.models import ConversationStatus, Message, MessageType
from bot.db.session import session_scope
from bot.gateway import hub
from bot.gateway.events import message_event, message_view
from tests.console.conftest import (
    PASSWORD,
    make_adviser,
    make_conversation,
    resource,
)
from tests.support.servers import serve

pytestmark = [
    pytest.mark.e2e,
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAYLOADS = [
    line
    for line in (Path(__file__).parent / "xss_payloads.txt").read_text().splitlines()
    if line
]

# Runs before any page script: the flag payloads try to flip, and a record of
# every CSP violation the page reports.
WATCH = """
window.__xss = 0;
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Watch:
    """What a page did that it should not: dialogs, CSP reports, foreign requests."""

    base: str
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    async def assert_clean(self, page: Page) -> None:
        assert self.dialogs == []
        assert await page.evaluate("window.__xss") == 0
        assert await page.evaluate("window.__csp") == []
        assert [m for m in self.console if "Content Security Policy" in m] == []
        assert self.foreign == []


@pytest.fixture
async def server(app: Starlette) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _page(browser: Browser, server: str) -> tuple[Page, Watch]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(WATCH)
    page = await context.new_page()
    watch = Watch(server)

    async def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda msg: watch.console.append(msg.text))
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith(server + "/console/")
            else watch.foreign.append(req.url)
        ),
    )
    return page, watch


async def _sign_in(page: Page, server: str, username: str = "alex") -> None:
    await page.goto(f"{server}/console/")  # redirected to the login form
    assert "/console/login" in page.url
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{server}/console/")


async def _until(page: Page, predicate: str, timeout_s: float = 10) -> None:
    """Poll ``predicate`` from here: wait_for_function would need 'unsafe-eval'."""
    for _ in range(int(timeout_s * 20)):
        if await page.evaluate(predicate):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {predicate}")


async def _wait_for_stream(topic: str) -> None:
    """Wait until the page's EventSource has subscribed to ``topic``."""
    for _ in range(200):
        if hub.get_hub().subscriber_count(topic):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no subscriber on {topic}")


async def _texts(page: Page, selector: str) -> list[str]:
    return await page.locator(selector).all_text_contents()


async def test_xss_corpus_is_shown_as_text_and_never_runs(
    server: str, browser: Browser, db_url: str, directory: dict[str, str]
) -> None:
    assert len(PAYLOADS) >= 50
    make_adviser(db_url)
    # one conversation per payload, the payload as place, summary, LIO names
    # and last message (what the bot and the person put into a hand-over)
    per_payload = [
        make_conversation(
            db_url,
            place_name=p[:120],
            subtopic=p[:60],
            summary=p,
            organisation_names=[p],
            messages=[(MessageType.INCOMING, "person", p)],
            intent=(p[:60], 0.5),
            waited_minutes=100 - i,
        )
        for i, p in enumerate(PAYLOADS)
    ]
    # and one conversation holding every payload as a person's message and a note
    corpus = make_conversation(
        db_url,
        messages=[(MessageType.INCOMING, "person", p) for p in PAYLOADS]
        + [(MessageType.NOTE, "adviser", p) for p in PAYLOADS],
        intent=("ask_funding", 0.9),
        waited_minutes=500,
    )
    page, watch = await _page(browser, server)
    await _sign_in(page, server)
    await watch.assert_clean(page)

    # the queue: every payload is there, literally, as text (the person's words
    # quoted, the place, the organisations the bot gave)
    quoted = await _texts(page, ".card .person-words p:first-child")
    assert set(PAYLOADS) <= set(quoted)
    facts = "\n".join(await _texts(page, ".card .facts dd"))
    for p in PAYLOADS:
        assert f"{p[:120]} (Northdale, Testshire)" in facts
        assert f"Organisations: {p}" in facts
    await watch.assert_clean(page)

    # a live refresh inserts the same text through the JS path
    await _wait_for_stream(hub.QUEUE_TOPIC)
    hub.publish(hub.QUEUE_TOPIC, {"type": "status", "conversation_id": corpus})
    await _until(
        page,
        "() => document.getElementById('live-status').textContent"
        ".includes('Queue updated')",
    )
    assert set(PAYLOADS) <= set(
        await _texts(page, ".card .person-words p:first-child")
    )
    await watch.assert_clean(page)

    # the corpus transcript, picked up so the reply box and canned replies show
    await page.goto(f"{server}/console/conversations/{corpus}")
    await page.get_by_role("button", name="Pick up", exact=True).click()
    await page.wait_for_url(f"**/conversations/{corpus}?notice=claimed")
    assert await _texts(page, ".msg-incoming .msg-text") == PAYLOADS
    assert await _texts(page, ".msg-note .msg-text") == PAYLOADS
    await watch.assert_clean(page)

    # a new message arriving live is appended as text too
    with session_scope(db_url) as s:
        m = Message(
            conversation_id=corpus,
            message_type=MessageType.INCOMING,
            sender="person",
            content=PAYLOADS[0],
            channel="web",
        )
        s.add(m)
        s.flush()
        view = message_view(m)
    await _wait_for_stream(hub.conversation_topic(corpus))
    hub.publish(hub.conversation_topic(corpus), message_event(corpus, view))
    await page.wait_for_selector(f'li[data-id="{view["id"]}"]')
    texts = await _texts(page, ".msg-incoming .msg-text")
    assert texts == PAYLOADS + [PAYLOADS[0]]
    await watch.assert_clean(page)

    # every per-payload conversation page
    for cid, payload in zip(per_payload, PAYLOADS, strict=True):
        await page.goto(f"{server}/console/conversations/{cid}")
        assert await _texts(page, ".person-words p") == [payload]
        assert await _texts(page, ".msg-incoming .msg-text") == [payload]
        assert await _texts(page, ".msg-incoming .intent") == [payload[:60]]
        assert (await page.title()).endswith("Front Door adviser console")
    await watch.assert_clean(page)


async def test_csp_blocks_inline_script_even_if_markup_got_in(
    server: str, browser: Browser, db_url: str
) -> None:
    make_adviser(db_url)
    page, watch = await _page(browser, server)
    await _sign_in(page, server)
    # simulate an escaping bug: put markup into the DOM the way a bug would
    await page.evaluate(
        """() => {
          const s = document.createElement('script');
          s.textContent = 'window.__xss = 1';
          document.body.appendChild(s);
          const d = document.createElement('div');
          d.innerHTML = '<img src=x onerror="window.__xss=2">';
          document.body.appendChild(d);
        }"""
    )
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.__xss") == 0
    violations = await page.evaluate("window.__csp")
    assert any(v.startswith("script-src") for v in violations), violations


async def _screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """Take a full-page screenshot into the test's temp dir, never docs/: the
    seeded data here is invented (Testshire), the docs show the real stack."""
    shot = tmp_path / f"test-seeded-{name}"
    await page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000


async def _realistic(db_url: str, adviser_id: int) -> dict[str, str]:
    """Seed the plausible queue and transcript the screenshots show."""
    grants = make_conversation(
        db_url,
        waited_minutes=42,
        summary=(
            "Reason: asked for a person. Topic: Funding (grants). Place: Northdale "
            "(E07000001). Organisations suggested: Testshire CVS."
        ),
        messages=[
            (
                MessageType.INCOMING,
                "person",
                "Hi, we run a lunch club and need a new minibus",
                ("ask_funding", 0.91),
            ),
            (
                MessageType.OUTGOING,
                "bot",
                "I can help with funding. Where is your group based?",
            ),
            (MessageType.INCOMING, "person", "Northdale", ("inform_place", 0.97)),
            (
                MessageType.OUTGOING,
                "bot",
                "Testshire CVS supports groups in Northdale.",
            ),
            (
                MessageType.INCOMING,
                "person",
                "Can I talk to someone about grants?",
                ("ask_human", 0.88),
            ),
        ],
    )
    make_conversation(
        db_url,
        topic="governance",
        subtopic="trustee_duties",
        place_name="Southdale",
        lad_code="E07000002",
        waited_minutes=18,
        reason="accepted_offer",
        summary=(
            "Reason: accepted the offer of an adviser. Topic: Governance (trustee "
            "duties). Place: Southdale (E07000002). Organisations suggested: "
            "Testshire CVS."
        ),
        messages=[
            (MessageType.INCOMING, "person", "Our treasurer has resigned mid-year"),
            (MessageType.INCOMING, "person", "What do the other trustees need to do?"),
        ],
        intent=("ask_governance", 0.78),
    )
    make_conversation(
        db_url,
        topic="volunteering",
        subtopic="dbs_checks",
        place_name="Holyhead",
        lad_code="W06000001",
        organisation_id="lio901",
        waited_minutes=4,
        reason="other_enquiry",
        summary=(
            "Reason: an enquiry outside funding, governance and volunteering. Topic: "
            "Volunteering (dbs checks). Place: Holyhead (W06000001). Organisations "
            "suggested: Testshire Cymru CVC."
        ),
        organisation_names=["Testshire Cymru CVC"],
        messages=[
            (MessageType.INCOMING, "person", "Do our youth volunteers need DBS checks?")
        ],
        intent=("ask_volunteering", 0.64),
    )
    make_conversation(
        db_url,
        status=ConversationStatus.ASSIGNED,
        assignee_id=adviser_id,
        topic="funding",
        subtopic="fundraising",
        place_name="Northdale",
        waited_minutes=75,
        summary="Reason: asked for a person. Topic: Funding (fundraising).",
    )
    return {"grants": grants}


async def test_accessibility_keyboard_and_screenshots(
    server: str,
    browser: Browser,
    db_url: str,
    directory: dict[str, str],
    tmp_path: Path,
) -> None:
    adviser_id = make_adviser(db_url)
    seeded = await _realistic(db_url, adviser_id)
    page, watch = await _page(browser, server)
    axe = Axe()

    async def check_axe(name: str) -> None:
        results = await axe.run(page)
        assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"

    await page.goto(f"{server}/console/login")
    await check_axe("login")
    await _sign_in(page, server)
    await check_axe("queue")
    await _screenshot(page, "console-queue.png", tmp_path)

    # keyboard only: the skip link, then Tab to the first "Pick up" and press Enter
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == (
        "Skip to main content"
    )
    for _ in range(40):
        await page.keyboard.press("Tab")
        label = await page.evaluate("document.activeElement.textContent || ''")
        if label.startswith("Pick up"):
            break
    else:
        pytest.fail("no Pick up button reachable by Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/conversations/{seeded['grants']}?notice=claimed")

    # a reply, a note, and a canned reply put into the reply box
    await page.get_by_label("Reply to the person").fill(
        "Hello, I'm Alex from Testshire CVS. Is the minibus for the lunch club only?"
    )
    await page.get_by_role("button", name="Send reply").click()
    await page.wait_for_url("**?notice=replied")
    with session_scope(db_url) as s:
        last = s.scalars(
            select(Message)
            .where(Message.message_type == MessageType.OUTGOING)
            .order_by(Message.id.desc())
        ).first()
        assert last is not None and last.sender == "adviser"
    await page.get_by_label("Internal note").fill(
        "Checked: they are a member of Testshire CVS."
    )
    await page.get_by_role("button", name="Add note").click()
    await page.wait_for_url("**?notice=noted")
    await check_axe("transcript")
    await _screenshot(page, "console-transcript.png", tmp_path)
    ncvo = resource("res014")
    await page.get_by_role(
        "button", name=f"Edit before sending {ncvo['title']} ({ncvo['publisher']})"
    ).click()
    assert (await page.get_by_label("Reply to the person").input_value()) == (
        f"This guidance from NCVO should help: {ncvo['title']}. {ncvo['url']}"
    )
    await watch.assert_clean(page)


def test_chromium_is_the_debian_one() -> None:
    assert shutil.which("chromium") == CHROMIUM
