"""Live updates in a real browser that must not get in the adviser's way: an
outcome being chosen survives a refresh, and an urgent alert reaches a page
about another conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from starlette.applications import Starlette

from bot.conversations import service
from bot.db.models import ConversationStatus
from bot.db.repositories import conversations as conversations_repo
from bot.db.session import session_scope
from bot.gateway import hub
from bot.gateway.events import status_event
from tests.console.conftest import PASSWORD, make_adviser, make_conversation
from tests.support.servers import serve

pytestmark = [pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture
async def server(app: Starlette) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser: Browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            yield await context.new_page()
        finally:
            await browser.close()


async def _sign_in(page: Page, server: str) -> None:
    await page.goto(f"{server}/console/")
    await page.get_by_label("Username").fill("alex")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{server}/console/")


async def _subscribed(topic: str) -> None:
    """Wait until the page's EventSource has subscribed to ``topic``."""
    for _ in range(200):
        if hub.get_hub().subscriber_count(topic):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no subscriber on {topic}")


async def test_an_outcome_being_chosen_survives_a_live_refresh(
    server: str, page: Page, db_url: str, directory: dict[str, str]
) -> None:
    adviser_id = make_adviser(db_url)
    cid = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=adviser_id
    )
    await _sign_in(page, server)
    await page.goto(f"{server}/console/conversations/{cid}")
    await _subscribed(hub.conversation_topic(cid))
    # the status panel's (the resolve confirmation has an Outcome of its own)
    outcome = page.locator("#status-panel").get_by_label("Outcome")
    await outcome.select_option("referred_to_lio")
    async with page.expect_response(lambda r: r.url.endswith(f"{cid}/panel")):
        hub.publish(hub.conversation_topic(cid), status_event(cid, "assigned"))
    await expect(outcome).to_have_value("referred_to_lio")
    await page.get_by_role("button", name="Resolve").click()
    await page.wait_for_url(f"{server}/console/?notice=resolved")
    with session_scope(db_url) as s:
        conversation = s.get(conversations_repo.Conversation, cid)
        assert conversation is not None
        assert conversation.outcome == "referred_to_lio"


async def test_an_urgent_alert_reaches_a_page_about_another_conversation(
    server: str, page: Page, db_url: str, directory: dict[str, str]
) -> None:
    adviser_id = make_adviser(db_url)
    mine = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=adviser_id
    )
    other = make_conversation(db_url)
    await _sign_in(page, server)
    await page.goto(f"{server}/console/conversations/{mine}")
    alert = page.locator("#urgent-alert")
    await expect(alert).to_be_hidden()
    await expect(alert).to_have_attribute("data-live", "open")
    await _subscribed(hub.QUEUE_TOPIC)
    with session_scope(db_url) as s:
        conversation = s.get(conversations_repo.Conversation, other)
        assert conversation is not None
        assert service.mark_urgent(s, conversation_id=conversation.id)
    hub.publish(
        hub.QUEUE_TOPIC,
        status_event(other, "queued", handoff_id=1, reason="urgent", urgent=True),
    )
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("Urgent: someone may be at risk now")
    await alert.get_by_role("link", name="Open the urgent conversation").click()
    await page.wait_for_url(f"**/conversations/{other}")
    await expect(page.locator("h1 .urgent-tag")).to_have_text("Urgent")


async def test_a_reply_shows_sending_then_failed_then_delivered_live(
    server: str, page: Page, db_url: str, directory: dict[str, str]
) -> None:
    """The transcript follows the outbox without a reload: what the delivery
    worker records (here written as it writes it) shows up in place."""
    from sqlalchemy import select

    from bot.db.models import Outbox
    from bot.gateway.delivery import record_delivered, record_failure

    adviser_id = make_adviser(db_url)
    cid = make_conversation(
        db_url,
        channel="telegram",
        status=ConversationStatus.ASSIGNED,
        assignee_id=adviser_id,
    )
    await _sign_in(page, server)
    await page.goto(f"{server}/console/conversations/{cid}")
    await _subscribed(hub.conversation_topic(cid))
    await page.get_by_label("Reply to the person").fill("Hello from Alex")
    await page.get_by_role("button", name="Send reply").click()
    await page.wait_for_url("**?notice=replied")
    line = page.locator("li.msg-outgoing", has_text="Hello from Alex")
    await expect(line.locator(".delivery")).to_have_text("Sending…")
    with session_scope(db_url) as s:
        row = s.scalars(select(Outbox).where(Outbox.conversation_id == cid)).one()
        outbox_id, message_id = row.id, row.message_id
        record_failure(
            s, outbox_id=outbox_id, attempts=10, error="Forbidden", retry_at=None
        )
    event = {"type": "delivery", "conversation_id": cid, "message_id": message_id}
    hub.publish(hub.conversation_topic(cid), event)
    await expect(line.locator(".delivery")).to_contain_text("Not delivered")
    await line.get_by_role("button", name="Send again").click()
    await page.wait_for_url("**?notice=retrying")
    await expect(line.locator(".delivery")).to_have_text("Sending…")
    with session_scope(db_url) as s:
        record_delivered(s, outbox_id=outbox_id, message_id=message_id)
    hub.publish(hub.conversation_topic(cid), event)
    await expect(line.locator(".delivery")).to_have_text("Delivered")
