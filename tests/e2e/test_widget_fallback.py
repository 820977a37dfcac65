"""The widget without its event stream: it reads the history instead.

The browser is made to fail the widget's event stream (as a proxy that refuses
long-lived responses, or a worker that went away, would): every request for it
is answered 503 before it reaches the gateway. EventSource then gives up for
good, and the widget must still show an adviser's reply, by polling the
conversation's history.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, E2EStack
from tests.e2e.people import Console

pytestmark = [pytest.mark.e2e]
REPLY_TIMEOUT_MS = 20_000
EVENTS = re.compile(r".*/api/widget/conversations/[^/]+/events\?.*")


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 820})
            yield context.new_page()
        finally:
            browser.close()


def test_widget_polls_the_history_when_its_stream_fails(
    stack: E2EStack, page: Page
) -> None:
    refused: list[str] = []

    def refuse(route: Route) -> None:
        refused.append(route.request.url)
        route.fulfill(
            status=503, content_type="application/json",
            body='{"error": "streams are not available"}',
        )

    page.route(EVENTS, refuse)
    page.goto(stack.gateway_url + "/")
    page.locator(".fd-launcher").click()
    page.locator("#fd-input").fill("I'd like to talk to a person please")
    page.keyboard.press("Enter")
    log = page.locator(".fd-log")
    expect(log).to_contain_text("human adviser", timeout=REPLY_TIMEOUT_MS)
    assert refused, "the widget never asked for its event stream"
    cid = page.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    console = Console(stack)
    try:
        console.claim(cid)
        text = f"Hello, this is an adviser ({secrets.token_hex(3)})"
        console.reply(cid, text)
        # no stream: the reply arrives through the history the widget polls
        expect(log).to_contain_text(text, timeout=REPLY_TIMEOUT_MS)
        console.resolve(cid, "answered")
    finally:
        console.close()
